/*
 * dpclient.h - one request to the dataplane's private mgmt socket
 * (dataplane/mgmt.h): connect, send one JSON line, read one JSON line.
 *
 * Synchronous with a deadline (DPCLIENT_TIMEOUT_MS): mgmt answers within a
 * worker round trip, so sipreg-control's poll loop stalls at most that long
 * for a kick or a reload.
 */
#ifndef SIPREG_CONTROL_DPCLIENT_H
#define SIPREG_CONTROL_DPCLIENT_H

#include <stddef.h>

#include <jansson.h>

#define DPCLIENT_TIMEOUT_MS 2000

/*
 * Sends request to the socket at path.  Returns the answer object (new
 * reference), or NULL with a reason in err ("dataplane not running: ..."
 * when nothing listens there).
 */
json_t *dpclient_call(const char *path, const json_t *request, char *err, size_t err_len);

#endif
