/*
 * dpclient.c - the mgmt socket client (dpclient.h).
 */
#include "dpclient.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

json_t *dpclient_call(const char *path, const json_t *request, char *err, size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec deadline;
	char buf[65536];
	size_t got = 0;
	json_t *answer = NULL;
	json_error_t jerr;
	char *line;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "dataplane socket path too long: %s", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, err_len, "dataplane not running (cannot connect to %s: %s)", path,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	line = json_dumps(request, JSON_COMPACT);
	if (!line) {
		snprintf(err, err_len, "out of memory");
		close(fd);
		return NULL;
	}
	size_t n = strlen(line);
	line[n] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += DPCLIENT_TIMEOUT_MS / 1000;
	if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		snprintf(err, err_len, "dataplane socket %s: send: %s", path, strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = ms_left(&deadline);
		ssize_t r;
		char *nl;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			snprintf(err, err_len, "dataplane did not answer within %d ms",
				 DPCLIENT_TIMEOUT_MS);
			goto out;
		}
		r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (r <= 0) {
			snprintf(err, err_len, "dataplane closed the connection without an answer");
			goto out;
		}
		got += (size_t)r;
		if ((nl = memchr(buf, '\n', got)) != NULL) {
			answer = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
			if (!json_is_object(answer)) {
				json_decref(answer);
				answer = NULL;
				snprintf(err, err_len, "dataplane answered something that is not a "
					 "JSON object");
			}
			goto out;
		}
		if (got == sizeof(buf) - 1) {
			snprintf(err, err_len, "dataplane answer longer than %zu bytes", sizeof(buf));
			goto out;
		}
	}
out:
	free(line);
	close(fd);
	return answer;
}
