/*
 * server.h - the admin socket: a Unix stream socket served by one poll
 * loop.  Connections never block each other: sockets are non-blocking,
 * answers queue per connection, and an export produces its next chunk
 * (SERVER_EXPORT_CHUNK_ROWS) only when that connection's queue is below
 * SERVER_OUT_HIGH_BYTES, so a slow reader holds one snapshot open, not
 * memory, and not the loop.
 *
 * Requests longer than ADMIN_MAX_LINE get an error answer and the
 * connection is closed after it (there is no way to resynchronise inside
 * an unterminated line).
 */
#ifndef SIPREG_CONTROL_SERVER_H
#define SIPREG_CONTROL_SERVER_H

#include <signal.h>

#include "admin.h"

#define SERVER_MAX_CONNS 64
#define SERVER_OUT_HIGH_BYTES (256u * 1024)
#define SERVER_EXPORT_CHUNK_ROWS 2048

/* Creates the socket (replacing a stale one), mode 0660, group "sipreg"
 * when that group exists.  Returns the listening fd, or -1 with err. */
int server_listen(const char *path, char *err, size_t err_len);

/* Serves until *stop is set.  Returns 0. */
int server_run(struct control *c, int listen_fd, volatile sig_atomic_t *stop);

#endif
