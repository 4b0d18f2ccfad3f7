"""Calls a running `sparsevit serve` with NVIDIA's tritonclient (HTTP): health, metadata, and infer with
JSON tensors, binary tensors, image files and request parameters. Prints the outputs as one JSON object
on stdout for the caller (ServerTests/TritonClientTests) to check against the model.

    python tritonclient_check.py --url 127.0.0.1:PORT --model sparsevit --input x.npy --image cat.jpg
"""
import argparse
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--input", required=True, help="float32 (1, 3, H, W) .npy")
    parser.add_argument("--image", required=True, help="a JPEG or PNG file")
    args = parser.parse_args()
    client = httpclient.InferenceServerClient(url=args.url, network_timeout=120.0)
    result = {}
    result["live"] = client.is_server_live()
    result["ready"] = client.is_server_ready()
    result["model_ready"] = client.is_model_ready(args.model)
    result["server_name"] = client.get_server_metadata()["name"]
    metadata = client.get_model_metadata(args.model)
    result["inputs"] = [entry["name"] for entry in metadata["inputs"]]
    result["outputs"] = [entry["name"] for entry in metadata["outputs"]]

    images = np.load(args.input).astype(np.float32)
    for name, binary in (("json", False), ("binary", True)):
        tensor = httpclient.InferInput("images", list(images.shape), "FP32")
        tensor.set_data_from_numpy(images, binary_data=binary)
        wanted = [httpclient.InferRequestedOutput("logits", binary_data=binary),
                  httpclient.InferRequestedOutput("pooled_features", binary_data=binary)]
        response = client.infer(args.model, [tensor], outputs=wanted)
        result[name + "_logits"] = response.as_numpy("logits").astype(float).ravel().tolist()
        result[name + "_pooled"] = response.as_numpy("pooled_features").astype(float).ravel().tolist()
        result[name + "_parameters"] = response.get_response().get("parameters", {})

    tensor = httpclient.InferInput("images", list(images.shape), "FP32")
    tensor.set_data_from_numpy(images, binary_data=True)
    response = client.infer(args.model, [tensor], parameters={"sparsity": 0.5, "top_k": 3},
                            outputs=[httpclient.InferRequestedOutput("logits"),
                                     httpclient.InferRequestedOutput("top_k")])
    result["sparse_logits"] = response.as_numpy("logits").astype(float).ravel().tolist()
    result["sparse_parameters"] = response.get_response().get("parameters", {})
    result["top_k"] = [item.decode() if isinstance(item, bytes) else item
                       for item in response.as_numpy("top_k").ravel().tolist()]

    with open(args.image, "rb") as handle:
        data = np.array([handle.read()], dtype=np.object_)
    tensor = httpclient.InferInput("image_bytes", [1], "BYTES")
    tensor.set_data_from_numpy(data, binary_data=True)
    response = client.infer(args.model, [tensor], outputs=[httpclient.InferRequestedOutput("logits")])
    result["image_logits"] = response.as_numpy("logits").astype(float).ravel().tolist()

    try:
        client.infer("no_such_model", [tensor])
        result["unknown_model"] = "accepted"
    except InferenceServerException as error:
        result["unknown_model"] = str(error.status())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
