/*
 * server.c - admin socket poll loop (server.h).
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	struct outbuf in;
	struct outbuf out;
	struct admin_peer peer;
	struct admin_stream stream;
	bool closing;               /* close once out is sent */
	bool discarding;            /* skipping the rest of an over-long line */
};

int server_listen(const char *path, char *err, size_t err_len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct group *gr;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, err_len, "socket path longer than %zu bytes: %s",
			 sizeof(sa.sun_path) - 1, path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	/* a socket file left by a previous run: replace it unless someone
	 * still listens there */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(probe);
		close(fd);
		snprintf(err, err_len, "%s: another sipreg-control is listening there", path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	gr = getgrnam("sipreg");
	if (gr && chown(path, (uid_t)-1, gr->gr_gid) != 0) {
		snprintf(err, err_len, "%s: chown to group sipreg: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, 0660) != 0) {
		snprintf(err, err_len, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void conn_close(struct conn *k)
{
	if (k->stream.active)
		admin_stream_end(&k->stream);
	close(k->fd);
	outbuf_free(&k->in);
	outbuf_free(&k->out);
	free(k);
}

static struct conn *conn_accept(int lfd)
{
	struct conn *k;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return NULL;
	}
	k->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		k->peer.known = true;
		k->peer.uid = cred.uid;
		k->peer.pid = cred.pid;
	}
	return k;
}

/* Handles complete request lines while nothing streams and the answer
 * queue has room. */
static void conn_process(struct control *c, struct conn *k)
{
	while (!k->closing && !k->stream.active && k->out.len < SERVER_OUT_HIGH_BYTES) {
		char *nl = k->in.len ? memchr(k->in.data, '\n', k->in.len) : NULL;

		if (!nl) {
			if (k->in.len > ADMIN_MAX_LINE) {
				outbuf_printf(&k->out, "{\"ok\":false,\"error\":\"request line longer "
					      "than %u bytes\"}\n", ADMIN_MAX_LINE);
				k->discarding = true;
				k->in.len = 0;
			}
			return;
		}
		size_t n = (size_t)(nl - k->in.data);
		if (n > ADMIN_MAX_LINE) {
			outbuf_printf(&k->out, "{\"ok\":false,\"error\":\"request line longer than %u "
				      "bytes\"}\n", ADMIN_MAX_LINE);
		} else {
			size_t m = n;

			if (m && k->in.data[m - 1] == '\r')
				m--;
			if (m)
				admin_handle_line(c, k->in.data, m, &k->peer, &k->out, &k->stream);
		}
		outbuf_consume(&k->in, n + 1);
	}
}

/* Reads what is there. false: the peer is gone. */
static bool conn_read(struct conn *k)
{
	char buf[65536];

	/* at most 1 MiB per turn, so a client that never stops sending
	 * cannot keep the loop here */
	for (int turn = 0; turn < 16; turn++) {
		ssize_t r = recv(k->fd, buf, sizeof(buf), 0);

		if (r > 0) {
			const char *p = buf;
			size_t n = (size_t)r;

			if (k->discarding) {
				const char *nl = memchr(buf, '\n', n);

				if (!nl)
					continue;
				k->discarding = false;
				n -= (size_t)(nl + 1 - buf);
				p = nl + 1;
			}
			outbuf_append(&k->in, p, n);
			if (k->in.failed)
				return false;
			if (k->in.len > ADMIN_MAX_LINE)
				return true;    /* conn_process answers and discards */
			if ((size_t)r < sizeof(buf))
				return true;
			continue;
		}
		if (r == 0)
			return false;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	}
	return true;
}

static bool conn_write(struct conn *k)
{
	while (k->out.len) {
		ssize_t w = send(k->fd, k->out.data, k->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			outbuf_consume(&k->out, (size_t)w);
			continue;
		}
		return w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
	}
	return true;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int server_run(struct control *c, int lfd, volatile sig_atomic_t *stop)
{
	struct conn *conns[SERVER_MAX_CONNS] = { 0 };
	struct pollfd pfd[SERVER_MAX_CONNS + 1];
	int64_t next_tick = 0;

	while (!*stop) {
		int64_t now = mono_ms();
		int timeout = 1000;
		nfds_t n = 0;

		if (now >= next_tick) {
			control_tick(c, now);
			next_tick = now + 1000;
		}
		for (int i = 0; i < SERVER_MAX_CONNS; i++) {
			struct conn *k = conns[i];

			if (!k)
				continue;
			conn_process(c, k);
			if (k->stream.active && k->out.len < SERVER_OUT_HIGH_BYTES)
				admin_stream_next(&k->stream, &k->out, SERVER_EXPORT_CHUNK_ROWS);
			if (!conn_write(k) || (k->closing && k->out.len == 0)) {
				conn_close(k);
				conns[i] = NULL;
				continue;
			}
			if (k->stream.active && k->out.len < SERVER_OUT_HIGH_BYTES)
				timeout = 0;   /* more rows to produce */
		}
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		int map[SERVER_MAX_CONNS + 1];
		for (int i = 0; i < SERVER_MAX_CONNS; i++) {
			if (!conns[i])
				continue;
			short ev = 0;
			if (!conns[i]->closing)
				ev |= POLLIN;
			if (conns[i]->out.len)
				ev |= POLLOUT;
			map[n] = i;
			pfd[n++] = (struct pollfd){ .fd = conns[i]->fd, .events = ev };
		}
		int64_t until_tick = next_tick - mono_ms();
		if (timeout > until_tick)
			timeout = until_tick > 0 ? (int)until_tick : 0;
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[0].revents & POLLIN) {
			for (;;) {
				int slot = -1;

				for (int i = 0; i < SERVER_MAX_CONNS; i++)
					if (!conns[i]) {
						slot = i;
						break;
					}
				if (slot < 0) {
					/* full: take and drop one so the backlog moves */
					int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
					if (fd < 0)
						break;
					static const char msg[] = "{\"ok\":false,\"error\":\"too many "
								  "connections\"}\n";
					if (send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
						/* nothing more to do for it */
					}
					close(fd);
					continue;
				}
				conns[slot] = conn_accept(lfd);
				if (!conns[slot])
					break;
			}
		}
		for (nfds_t j = 1; j < n; j++) {
			struct conn *k = conns[map[j]];

			if (!k)
				continue;
			if ((pfd[j].revents & (POLLIN | POLLHUP | POLLERR)) && !k->closing) {
				if (!conn_read(k)) {
					conn_close(k);
					conns[map[j]] = NULL;
					continue;
				}
			}
			if ((pfd[j].revents & POLLOUT) && !conn_write(k)) {
				conn_close(k);
				conns[map[j]] = NULL;
			}
		}
	}
	for (int i = 0; i < SERVER_MAX_CONNS; i++)
		if (conns[i])
			conn_close(conns[i]);
	return 0;
}
