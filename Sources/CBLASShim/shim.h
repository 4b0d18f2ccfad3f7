// OpenBLAS CBLAS (sgemm and the openblas_* thread/config queries) and LAPACKE, from Debian's
// libopenblas-dev and liblapacke-dev. Only Sources/Engine/Linear/BLAS.swift calls into this module.
#include <cblas.h>
#include <lapacke.h>
