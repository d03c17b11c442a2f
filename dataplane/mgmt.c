/* mgmt.c — management socket thread: JSON lines in, JSON lines out. */
#include "mgmt.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_ring.h>

#include "aor_hash.h"

#define MAX_CLIENTS 16
#define WORKER_TIMEOUT_MS 2000

struct client {
	int fd;
	size_t used;
	char *buf;               /* MGMT_MAX_LINE + 1 */
};

struct mgmt {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	char path[108];
	struct rte_ring *const *cmd_rings;
	unsigned n_workers;
	struct mgmt_hooks hooks;
	struct client clients[MAX_CLIENTS];
};

static void answer_error(char *out, size_t out_len, const char *what)
{
	json_t *o = json_pack("{s:b,s:s}", "ok", 0, "error", what);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	snprintf(out, out_len, "%s", text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
	free(text);
	json_decref(o);
}

static void answer_object(char *out, size_t out_len, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);

	snprintf(out, out_len, "%s", text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
	free(text);
	json_decref(o);
}

/* Sends cmd to worker k and waits for it. Returns 0, or -1 on timeout (the
 * command is then leaked on purpose: the worker may still write it). */
int mgmt_run_on_worker(struct mgmt *m, unsigned k, struct worker_command *cmd)
{
	struct timespec pause = { 0, 100 * 1000 };

	if (rte_ring_enqueue(m->cmd_rings[k], cmd) != 0)
		return -1;
	for (int waited_us = 0; waited_us < WORKER_TIMEOUT_MS * 1000; waited_us += 100) {
		if (__atomic_load_n(&cmd->done, __ATOMIC_ACQUIRE))
			return 0;
		nanosleep(&pause, NULL);
	}
	return -1;
}

static void cmd_kick(struct mgmt *m, json_t *req, char *out, size_t out_len)
{
	const char *aor = NULL, *key = "";
	json_error_t jerr;

	if (json_unpack_ex(req, &jerr, 0, "{s:s,s?s}", "aor", &aor, "binding_key", &key) != 0) {
		answer_error(out, out_len, "kick needs \"aor\" (string) and optional \"binding_key\" (string)");
		return;
	}
	struct worker_command *cmd = calloc(1, sizeof(*cmd));
	if (!cmd) {
		answer_error(out, out_len, "out of memory");
		return;
	}
	size_t aor_len = strlen(aor), key_len = strlen(key);
	if (aor_len == 0 || aor_len >= sizeof(cmd->aor) || key_len >= sizeof(cmd->binding_key)) {
		free(cmd);
		answer_error(out, out_len, "aor empty or too long, or binding_key too long");
		return;
	}
	cmd->type = WORKER_CMD_KICK;
	memcpy(cmd->aor, aor, aor_len);
	cmd->aor_len = (uint32_t)aor_len;
	memcpy(cmd->binding_key, key, key_len);
	cmd->binding_key_len = (uint32_t)key_len;
	unsigned owner = store_aor_owner(aor, aor_len, m->n_workers);
	if (mgmt_run_on_worker(m, owner, cmd) != 0) {
		answer_error(out, out_len, "the owning worker did not answer");
		return;
	}
	answer_object(out, out_len, json_pack("{s:b,s:I}", "ok", 1, "removed", (json_int_t)cmd->result));
	free(cmd);
}

static void cmd_status(struct mgmt *m, char *out, size_t out_len)
{
	json_t *bindings = json_array();

	for (unsigned k = 0; k < m->n_workers; k++) {
		struct worker_command *cmd = calloc(1, sizeof(*cmd));
		if (!cmd) {
			json_decref(bindings);
			answer_error(out, out_len, "out of memory");
			return;
		}
		cmd->type = WORKER_CMD_COUNT_BINDINGS;
		if (mgmt_run_on_worker(m, k, cmd) != 0) {
			json_decref(bindings);
			answer_error(out, out_len, "a worker did not answer");
			return;
		}
		json_array_append_new(bindings, json_integer(cmd->result));
		free(cmd);
	}
	answer_object(out, out_len,
		      json_pack("{s:b,s:i,s:i,s:i,s:I,s:o}", "ok", 1, "version", MGMT_PROTOCOL_VERSION,
				"pid", (int)getpid(), "workers", (int)m->n_workers, "accounts",
				(json_int_t)m->hooks.account_count(m->hooks.arg), "bindings", bindings));
}

unsigned mgmt_n_workers(const struct mgmt *m)
{
	return m->n_workers;
}

void mgmt_handle_line(struct mgmt *m, const char *line, size_t len, char *out, size_t out_len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *cmd = NULL;

	if (!req) {
		char why[256];
		snprintf(why, sizeof(why), "invalid JSON at column %d: %s", jerr.column, jerr.text);
		answer_error(out, out_len, why);
		return;
	}
	if (!json_is_object(req) || json_unpack(req, "{s:s}", "cmd", &cmd) != 0) {
		answer_error(out, out_len, "request must be an object with a \"cmd\" string");
	} else if (strcmp(cmd, "status") == 0) {
		cmd_status(m, out, out_len);
	} else if (strcmp(cmd, "reload_accounts") == 0) {
		int64_t n = m->hooks.reload_accounts(m->hooks.arg);
		if (n < 0)
			answer_error(out, out_len, "account reload failed; the old accounts stay in use");
		else
			answer_object(out, out_len, json_pack("{s:b,s:I}", "ok", 1, "accounts", (json_int_t)n));
	} else if (strcmp(cmd, "kick") == 0) {
		cmd_kick(m, req, out, out_len);
	} else if (!m->hooks.command || !m->hooks.command(m->hooks.arg, cmd, req, out, out_len)) {
		answer_error(out, out_len, "unknown cmd (status, reload_accounts, kick, block, unblock, "
					   "allow, disallow, blocks, xdp_counters)");
	}
	json_decref(req);
}

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->used = 0;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Reads what the client sent and answers every complete line. */
static void client_read(struct mgmt *m, struct client *c)
{
	static char answer[MGMT_MAX_LINE];
	ssize_t n = read(c->fd, c->buf + c->used, MGMT_MAX_LINE - c->used);
	char *start, *nl;

	if (n <= 0) {
		client_close(c);
		return;
	}
	c->used += (size_t)n;
	start = c->buf;
	while ((nl = memchr(start, '\n', c->used - (size_t)(start - c->buf))) != NULL) {
		mgmt_handle_line(m, start, (size_t)(nl - start), answer, sizeof(answer) - 1);
		size_t alen = strlen(answer);
		answer[alen++] = '\n';
		write_all(c->fd, answer, alen);
		start = nl + 1;
	}
	size_t rest = c->used - (size_t)(start - c->buf);
	memmove(c->buf, start, rest);
	c->used = rest;
	if (c->used == MGMT_MAX_LINE) {
		const char *e = "{\"ok\":false,\"error\":\"line longer than 65536 bytes\"}\n";
		write_all(c->fd, e, strlen(e));
		client_close(c);
	}
}

static void *mgmt_thread(void *arg)
{
	struct mgmt *m = arg;

	for (;;) {
		struct pollfd fds[MAX_CLIENTS + 2];
		int idx[MAX_CLIENTS + 2];
		nfds_t n = 0;

		fds[n] = (struct pollfd){ m->stop_pipe[0], POLLIN, 0 };
		idx[n++] = -2;
		fds[n] = (struct pollfd){ m->listen_fd, POLLIN, 0 };
		idx[n++] = -1;
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (m->clients[i].fd >= 0) {
				fds[n] = (struct pollfd){ m->clients[i].fd, POLLIN, 0 };
				idx[n++] = i;
			}
		if (m->hooks.tick)
			m->hooks.tick(m->hooks.arg);
		if (poll(fds, n, m->hooks.tick ? MGMT_TICK_MS : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents)
			break;
		for (nfds_t i = 1; i < n; i++) {
			if (!fds[i].revents)
				continue;
			if (idx[i] == -1) {
				int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
				int slot = -1;
				for (int k = 0; k < MAX_CLIENTS && fd >= 0; k++)
					if (m->clients[k].fd < 0) {
						slot = k;
						break;
					}
				if (fd >= 0 && slot < 0) {
					const char *e = "{\"ok\":false,\"error\":\"too many connections\"}\n";
					write_all(fd, e, strlen(e));
					close(fd);
				} else if (fd >= 0) {
					m->clients[slot].buf = malloc(MGMT_MAX_LINE + 1);
					if (!m->clients[slot].buf) {
						close(fd);
						continue;
					}
					m->clients[slot].fd = fd;
					m->clients[slot].used = 0;
				}
			} else {
				client_read(m, &m->clients[idx[i]]);
			}
		}
	}
	return NULL;
}

struct mgmt *mgmt_start(const char *socket_path, struct rte_ring *const *cmd_rings,
			unsigned n_workers, const struct mgmt_hooks *hooks, char *err,
			size_t err_len)
{
	struct mgmt *m = calloc(1, sizeof(*m));
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (!m) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "mgmt socket path '%s' longer than %zu", socket_path,
			 sizeof(addr.sun_path) - 1);
		free(m);
		return NULL;
	}
	strcpy(addr.sun_path, socket_path);
	strcpy(m->path, socket_path);
	m->cmd_rings = cmd_rings;
	m->n_workers = n_workers;
	m->hooks = *hooks;
	for (int i = 0; i < MAX_CLIENTS; i++)
		m->clients[i].fd = -1;
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(socket_path);
	mode_t old = umask(0117);
	int bound = m->listen_fd >= 0 ? bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) : -1;
	umask(old);
	if (bound != 0 || listen(m->listen_fd, 16) != 0 || pipe2(m->stop_pipe, O_CLOEXEC) != 0) {
		snprintf(err, err_len, "mgmt socket %s: %s", socket_path, strerror(errno));
		if (m->listen_fd >= 0)
			close(m->listen_fd);
		free(m);
		return NULL;
	}
	if (pthread_create(&m->thread, NULL, mgmt_thread, m) != 0) {
		snprintf(err, err_len, "mgmt thread: cannot start");
		close(m->listen_fd);
		free(m);
		return NULL;
	}
	return m;
}

void mgmt_stop(struct mgmt *m)
{
	if (!m)
		return;
	if (write(m->stop_pipe[1], "x", 1) != 1)
		pthread_cancel(m->thread);
	pthread_join(m->thread, NULL);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (m->clients[i].fd >= 0)
			client_close(&m->clients[i]);
	close(m->listen_fd);
	close(m->stop_pipe[0]);
	close(m->stop_pipe[1]);
	unlink(m->path);
	free(m);
}
