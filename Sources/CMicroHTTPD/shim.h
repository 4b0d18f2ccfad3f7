// libmicrohttpd for Swift: its start and info calls are C variadic functions, which Swift cannot call,
// so these inline wrappers pass the options the server uses as fixed arguments.
#ifndef SPARSEVIT_CMICROHTTPD_SHIM_H
#define SPARSEVIT_CMICROHTTPD_SHIM_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <microhttpd.h>

/// Starts a daemon with an internal thread pool on `address` (IPv4, port included), suspend/resume
/// allowed, per-connection timeout (seconds), connection cap and per-connection memory limit (bytes).
static inline struct MHD_Daemon *sparsevit_mhd_start(
    unsigned int flags, const struct sockaddr_in *address, unsigned int thread_pool_size,
    unsigned int connection_limit, unsigned int connection_timeout, size_t connection_memory_limit,
    MHD_AccessHandlerCallback handler, void *handler_context, MHD_RequestCompletedCallback completed,
    void *completed_context) {
  return MHD_start_daemon(
      flags, ntohs(address->sin_port), NULL, NULL, handler, handler_context,
      MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)address,
      MHD_OPTION_THREAD_POOL_SIZE, thread_pool_size,
      MHD_OPTION_CONNECTION_LIMIT, connection_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory_limit,
      MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
      MHD_OPTION_END);
}

/// The port the daemon listens on (the one the kernel chose when asked for port 0), 0 if unknown.
static inline uint16_t sparsevit_mhd_port(struct MHD_Daemon *daemon) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info == NULL ? 0 : info->port;
}

/// Connections the daemon holds open right now.
static inline unsigned int sparsevit_mhd_connections(struct MHD_Daemon *daemon) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  return info == NULL ? 0 : info->num_connections;
}

/// A response holding a copy of `size` bytes at `data`.
static inline struct MHD_Response *sparsevit_mhd_response_copy(size_t size, const void *data) {
  return MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_MUST_COPY);
}

#endif
