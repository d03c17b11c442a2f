/* mgmt.h — the dataplane's private management socket.
 *
 * sipreg-control (and operators' scripts) send commands to the running
 * dataplane here: force-unregister, account reload, policy reload, status.
 * A thread of its own (never a poll core) accepts connections on a Unix
 * stream socket (mode 0660), reads one JSON object per line and answers one
 * JSON line. Commands that touch a binding table travel to the owning
 * worker as messages on its command ring (the table has one writer); the
 * thread waits for the worker's answer, bounded by a timeout.
 *
 * Requests and answers (JSON, one per line; protocol version 1):
 *   {"cmd":"status"}
 *     -> {"ok":true,"version":1,"pid":N,"workers":N,"accounts":N,"bindings":[per worker]}
 *   {"cmd":"reload_accounts"}            -> {"ok":true,"accounts":N}
 *   {"cmd":"kick","aor":"sip:u@d"[,"binding_key":"..."]}
 *                                        -> {"ok":true,"removed":N}
 *   protection commands: see protection.h
 * Errors: {"ok":false,"error":"<what is wrong>"}; the connection stays
 * open. Lines longer than MGMT_MAX_LINE bytes are refused and the
 * connection closed.
 */
#ifndef SIPREG_MGMT_H
#define SIPREG_MGMT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MGMT_PROTOCOL_VERSION 1
#define MGMT_MAX_LINE 65536

struct rte_ring;
struct mgmt;

/* A command for one worker; the worker fills the result and sets done. */
enum worker_command_type {
	WORKER_CMD_KICK,
	WORKER_CMD_COUNT_BINDINGS,
	WORKER_CMD_LOCK,          /* lock (until_s > 0) or unlock a source */
};

struct worker_command {
	enum worker_command_type type;
	char aor[256];
	uint32_t aor_len;
	char binding_key[512];
	uint32_t binding_key_len;
	uint8_t addr[16];         /* WORKER_CMD_LOCK */
	uint8_t addr_len;
	int64_t until_s;
	int64_t result;
	uint32_t done;            /* set to 1 by the worker (release) */
};

struct mgmt_hooks {
	/* Called on the mgmt thread; returns the new account count or -1. */
	int64_t (*reload_accounts)(void *arg);
	/* Current account count. */
	uint32_t (*account_count)(void *arg);
	/* More commands (protection.h): returns true when it answered cmd
	 * into out; may be NULL. */
	bool (*command)(void *arg, const char *cmd, const json_t *req, char *out, size_t out_len);
	/* Called every MGMT_TICK_MS on the mgmt thread; may be NULL. */
	void (*tick)(void *arg);
	void *arg;
};

#define MGMT_TICK_MS 2

/* Runs cmd on worker k and waits for it (bounded). Returns 0, or -1 when
 * the worker did not answer (cmd is then leaked on purpose). For hooks. */
int mgmt_run_on_worker(struct mgmt *m, unsigned k, struct worker_command *cmd);

/* Number of workers the mgmt thread talks to. */
unsigned mgmt_n_workers(const struct mgmt *m);

struct mgmt;

/* Starts the management thread on socket_path (an old socket file there
 * is replaced). cmd_rings[k] is worker k's command ring. Returns NULL with
 * a reason in err. */
struct mgmt *mgmt_start(const char *socket_path, struct rte_ring *const *cmd_rings,
			unsigned n_workers, const struct mgmt_hooks *hooks, char *err,
			size_t err_len);

/* Stops the thread, closes connections, removes the socket file. */
void mgmt_stop(struct mgmt *m);

/* Handles one request line (exposed for the fuzz target and unit tests);
 * writes a NUL-terminated JSON answer to out. Never fails on bad input:
 * every malformed request gets an error answer. */
void mgmt_handle_line(struct mgmt *m, const char *line, size_t len, char *out, size_t out_len);

#endif
