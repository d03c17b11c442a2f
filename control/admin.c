/*
 * admin.c - admin API commands (admin.h): parse, validate, dispatch.
 */
#include "admin.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "account_import.h"
#include "dpclient.h"
#include "history.h"
#include "policy.h"
#include "recovery.h"
#include "stats_shm.h"
#include "xdp_maps.h"

#define BINDINGS_MAP_BYTES (8ULL << 30)   /* the dataplane's default (checkpoint.h) */
#define HISTORY_MAP_BYTES (32ULL << 30)
#define SHOW_HISTORY_EVENTS 20
#define KICK_WAIT_MS 500                  /* for the checkpoint to delete it (~10 ms) */

static const char *const commands[] = {
	"ping", "list", "show", "kick", "export", "history", "stats",
	"accounts_list", "account_add", "account_update", "account_remove",
	"accounts_import", "accounts_reload", "policy_get", "policy_set",
	"block", "unblock", "allow", "disallow", "blocks", "allowlist", "xdp_counters", NULL,
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- environments --- */

int control_open(struct control *c, const struct control_config *cfg, char *err, size_t err_len)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	snprintf(c->bindings_path, sizeof(c->bindings_path), "%s/bindings", cfg->state_dir);
	snprintf(c->history_path, sizeof(c->history_path), "%s/history", cfg->state_dir);
	if (stats_shm_path(c->stats_path, sizeof(c->stats_path), cfg->stats_dir,
			   cfg->instance) != 0) {
		snprintf(err, err_len, "stats path too long");
		return -1;
	}
	mkdir(cfg->state_dir, 0750);
	rc = store_config_open(cfg->state_dir, false, &c->config);
	if (rc != 0) {
		snprintf(err, err_len, "%s/config: cannot open: %s", cfg->state_dir,
			 rc < 0 ? strerror(-rc) : mdb_strerror(rc));
		return -1;
	}
	c->policy = policy_load(c->config, &c->policy_explicit, err, err_len);
	if (!c->policy) {
		store_config_close(c->config);
		return -1;
	}
	return 0;
}

void control_close(struct control *c)
{
	if (c->bindings_env)
		mdb_env_close(c->bindings_env);
	if (c->history_env)
		mdb_env_close(c->history_env);
	if (c->config)
		store_config_close(c->config);
	json_decref(c->policy);
	json_decref(c->policy_explicit);
	memset(c, 0, sizeof(*c));
}

static int open_env(const char *path, unsigned flags, uint64_t map_bytes, MDB_env **env,
		    MDB_dbi *dbi)
{
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_env_create(env)) != 0)
		return rc;
	if ((rc = mdb_env_set_mapsize(*env, map_bytes)) != 0 ||
	    (rc = mdb_env_open(*env, path, flags | MDB_NOTLS, 0640)) != 0 ||
	    (rc = mdb_txn_begin(*env, NULL, MDB_RDONLY, &txn)) != 0)
		goto fail;
	rc = mdb_dbi_open(txn, NULL, 0, dbi);
	mdb_txn_abort(txn);
	if (rc == 0)
		return 0;
fail:
	mdb_env_close(*env);
	*env = NULL;
	return rc;
}

/* open_env, with the operator's explanation in err. Returns 0 or -1. */
static int open_env_or_say(const char *path, unsigned flags, uint64_t map_bytes, MDB_env **env,
			   MDB_dbi *dbi, char *err, size_t err_len)
{
	int rc = open_env(path, flags, map_bytes, env, dbi);

	if (rc != 0) {
		snprintf(err, err_len, "cannot open %.200s (has the dataplane run with this state "
			 "dir?): %s", path, mdb_strerror(rc));
		return -1;
	}
	return 0;
}

static int begin_read(MDB_env *env, MDB_txn **txn)
{
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, txn);

	if (rc == MDB_MAP_RESIZED) {   /* the dataplane grew the map */
		mdb_env_set_mapsize(env, 0);
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, txn);
	}
	return rc;
}

static int bindings_txn(struct control *c, MDB_txn **txn, char *err, size_t err_len)
{
	int rc;

	if (!c->bindings_env &&
	    open_env_or_say(c->bindings_path, MDB_RDONLY, BINDINGS_MAP_BYTES, &c->bindings_env,
			    &c->bindings_dbi, err, err_len) != 0)
		return -1;
	rc = begin_read(c->bindings_env, txn);
	if (rc != 0) {
		snprintf(err, err_len, "%.200s: %s", c->bindings_path, mdb_strerror(rc));
		return -1;
	}
	return 0;
}

static int history_open(struct control *c, char *err, size_t err_len)
{
	if (c->history_env)
		return 0;
	return open_env_or_say(c->history_path, 0, HISTORY_MAP_BYTES, &c->history_env,
			       &c->history_dbi, err, err_len);
}

static int history_txn(struct control *c, MDB_txn **txn, char *err, size_t err_len)
{
	int rc;

	if (history_open(c, err, err_len) != 0)
		return -1;
	rc = begin_read(c->history_env, txn);
	if (rc != 0) {
		snprintf(err, err_len, "%.200s: %s", c->history_path, mdb_strerror(rc));
		return -1;
	}
	return 0;
}

/* --- answers --- */

static void answer_json(struct outbuf *out, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (s) {
		outbuf_puts(out, s);
		outbuf_append(out, "\n", 1);
	} else {
		outbuf_puts(out, "{\"ok\":false,\"error\":\"out of memory\"}\n");
	}
	free(s);
	json_decref(obj);
}

static void answer_error(struct outbuf *out, const char *msg)
{
	outbuf_puts(out, "{\"ok\":false,\"error\":");
	outbuf_json_string(out, msg, strlen(msg));
	outbuf_puts(out, "}\n");
}

static json_t *ok_object(void)
{
	return json_pack("{sb}", "ok", 1);
}

/* "uid=0(root) pid=123" plus the client's claim "by" when given. */
static json_t *who(const struct admin_peer *peer, const json_t *req)
{
	char buf[256] = "unknown";
	const json_t *by = json_object_get(req, "by");

	if (peer && peer->known) {
		struct passwd *pw = getpwuid(peer->uid);

		snprintf(buf, sizeof(buf), "uid=%u(%s) pid=%d", (unsigned)peer->uid,
			 pw ? pw->pw_name : "?", (int)peer->pid);
	}
	if (json_is_string(by)) {
		size_t n = strlen(buf);

		snprintf(buf + n, sizeof(buf) - n, " user=%.64s", json_string_value(by));
	}
	return json_string(buf);
}

static void record_admin(struct control *c, json_t *action, const struct admin_peer *peer,
			 const json_t *req, json_t *answer)
{
	char err[512];
	int rc;

	json_object_set_new(action, "who", who(peer, req));
	if (history_open(c, err, sizeof(err)) != 0) {
		json_object_set_new(answer, "history", json_string(err));
	} else if ((rc = history_admin_write(c->history_env, c->history_dbi, now_s(), action)) != 0) {
		json_object_set_new(answer, "history", json_string(mdb_strerror(rc)));
	} else {
		json_object_set_new(answer, "history", json_string("recorded"));
	}
	json_decref(action);
}

/* --- request parsing and validation --- */

json_t *admin_request_parse(const char *line, size_t len, const char **cmd, char *err,
			    size_t err_len)
{
	json_error_t jerr;
	json_t *req, *v;

	*cmd = NULL;
	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(err, err_len, "invalid JSON at column %d: %s", jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(req)) {
		snprintf(err, err_len, "request must be a JSON object with a \"cmd\" field");
		json_decref(req);
		return NULL;
	}
	v = json_object_get(req, "cmd");
	if (!json_is_string(v)) {
		snprintf(err, err_len, "field 'cmd' is missing or not a string");
		json_decref(req);
		return NULL;
	}
	for (size_t i = 0; commands[i]; i++)
		if (strcmp(json_string_value(v), commands[i]) == 0) {
			*cmd = commands[i];
			return req;
		}
	snprintf(err, err_len, "unknown cmd '%.64s' (ping, list, show, kick, export, history, "
		 "stats, accounts_list, account_add, account_update, account_remove, "
		 "accounts_import, accounts_reload, policy_get, policy_set)",
		 json_string_value(v));
	json_decref(req);
	return NULL;
}

static const char *string_field(const json_t *req, const char *name, bool required,
				size_t max, char *err, size_t err_len)
{
	const json_t *v = json_object_get(req, name);

	if (!v || json_is_null(v)) {
		if (required)
			snprintf(err, err_len, "field '%s' is required", name);
		return required ? NULL : "";
	}
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, err_len, "field '%s' must be a string of at most %zu bytes", name, max);
		return NULL;
	}
	if (required && json_string_length(v) == 0) {
		snprintf(err, err_len, "field '%s' must not be empty", name);
		return NULL;
	}
	return json_string_value(v);
}

/*
 * Account fields from a request into the column strings of
 * store_account_from_fields.  secret_fallback is used when the request
 * has neither password nor HA1s (update keeps the old ones).
 */
static int account_from_request(const json_t *req, const char *realm, const char *secret_fallback,
				const struct store_account *base, struct store_account *out,
				char *err, size_t err_len)
{
	char secret[256] = "", cidrs[1024] = "", nums[3][24];
	const char *f[8];
	const char *username, *password, *md5, *sha, *account, *mode;
	static const char *const num_names[3] = { "max_bindings", "min_expires_s", "max_expires_s" };
	const json_t *v;

	if (!(username = string_field(req, "username", true, STORE_ACCOUNT_NAME_MAX - 1, err, err_len)) ||
	    !(password = string_field(req, "password", false, 128, err, err_len)) ||
	    !(md5 = string_field(req, "ha1_md5", false, 32, err, err_len)) ||
	    !(sha = string_field(req, "ha1_sha256", false, 64, err, err_len)) ||
	    !(account = string_field(req, "account", false, STORE_ACCOUNT_NAME_MAX - 1, err, err_len)) ||
	    !(mode = string_field(req, "auth_mode", false, 16, err, err_len)))
		return -1;
	if (password[0] && (md5[0] || sha[0])) {
		snprintf(err, err_len, "give either 'password' or 'ha1_md5' + 'ha1_sha256', not both");
		return -1;
	}
	if (password[0])
		snprintf(secret, sizeof(secret), "%s", password);
	else if (md5[0] || sha[0])
		snprintf(secret, sizeof(secret), "ha1:%s:%s", md5, sha);
	else if (secret_fallback)
		snprintf(secret, sizeof(secret), "%s", secret_fallback);
	if (strchr(secret, '\0') != secret + strlen(secret)) {
		snprintf(err, err_len, "bad secret");
		return -1;
	}
	v = json_object_get(req, "cidrs");
	if (json_is_string(v)) {
		snprintf(cidrs, sizeof(cidrs), "%s", json_string_value(v));
	} else if (json_is_array(v)) {
		size_t i, n = 0;
		const json_t *e;

		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || i >= STORE_ACCOUNT_MAX_CIDRS ||
			    n + json_string_length(e) + 2 > sizeof(cidrs)) {
				snprintf(err, err_len, "field 'cidrs' must be up to %d strings",
					 STORE_ACCOUNT_MAX_CIDRS);
				return -1;
			}
			n += (size_t)snprintf(cidrs + n, sizeof(cidrs) - n, "%s%s", i ? " " : "",
					      json_string_value(e));
		}
	} else if (v && !json_is_null(v)) {
		snprintf(err, err_len, "field 'cidrs' must be a string or an array of strings");
		return -1;
	} else if (base) {
		size_t n = 0;

		for (unsigned i = 0; i < base->n_cidrs && i < STORE_ACCOUNT_MAX_CIDRS; i++) {
			char one[64];

			if (store_cidr_format(&base->cidrs[i], one, sizeof(one)) == 0)
				n += (size_t)snprintf(cidrs + n, sizeof(cidrs) - n, "%s%s",
						      i ? " " : "", one);
		}
	}
	for (int i = 0; i < 3; i++) {
		uint32_t old = !base ? 0 : i == 0 ? base->max_bindings
				 : i == 1 ? base->min_expires_s : base->max_expires_s;

		v = json_object_get(req, num_names[i]);
		if (v && !json_is_null(v)) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > UINT32_MAX) {
				snprintf(err, err_len, "field '%s' must be an integer >= 0 (0: the "
					 "global policy)", num_names[i]);
				return -1;
			}
			snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)json_integer_value(v));
		} else {
			snprintf(nums[i], sizeof(nums[i]), "%u", old);
		}
	}
	f[0] = username;
	f[1] = secret;
	f[2] = account[0] ? account : base ? base->account : "";
	f[3] = mode[0] ? mode : base ? store_auth_mode_name((enum store_auth_mode)base->auth_mode)
				     : "digest";
	f[4] = cidrs;
	f[5] = nums[0];
	f[6] = nums[1];
	f[7] = nums[2];
	if (!f[3])
		f[3] = "digest";
	if (store_account_from_fields(f, 8, realm, out, err, err_len) != 0)
		return -1;
	return 0;
}

int admin_request_validate(const json_t *req, const char *cmd, const char *realm, char *err,
			   size_t err_len)
{
	struct query_options q;
	struct history_query h;
	struct store_account a;

	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "export") == 0)
		return query_options_from_json(req, &q, err, err_len);
	if (strcmp(cmd, "history") == 0)
		return history_query_from_json(req, &h, err, err_len);
	if (strcmp(cmd, "show") == 0 || strcmp(cmd, "kick") == 0)
		return string_field(req, "aor", true, 255, err, err_len) ? 0 : -1;
	if (strcmp(cmd, "account_add") == 0)
		return account_from_request(req, realm, NULL, NULL, &a, err, err_len);
	if (strcmp(cmd, "policy_set") == 0) {
		json_t *changes, *p, *def = policy_defaults();

		p = policy_apply_set(def, json_object_get(req, "set"), &changes, err, err_len);
		json_decref(def);
		json_decref(changes);
		if (!p)
			return -1;
		json_decref(p);
	}
	return 0;
}

/* --- commands --- */

static uint32_t expiring_window(const struct control *c)
{
	json_int_t w = json_integer_value(json_object_get(c->policy, "expiring_window_s"));

	return w > 0 ? (uint32_t)w : 0;
}

static void cmd_list(struct control *c, const json_t *req, struct outbuf *out)
{
	struct query_options q;
	MDB_txn *btxn = NULL, *htxn = NULL;
	char err[512];
	int rc;

	if (query_options_from_json(req, &q, err, sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	q.expiring_window_s = expiring_window(c);
	if (bindings_txn(c, &btxn, err, sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	if ((q.filter.status_mask & (1u << QSTATUS_UNREGISTERED)) &&
	    history_txn(c, &htxn, err, sizeof(err)) != 0) {
		mdb_txn_abort(btxn);
		answer_error(out, err);
		return;
	}
	size_t start = out->len;
	outbuf_puts(out, "{\"ok\":true,");
	rc = query_list(btxn, c->bindings_dbi, htxn, c->history_dbi, &q, now_s(), out, NULL);
	if (rc == 0) {
		outbuf_printf(out, ",\"offset\":%llu,\"limit\":%llu}\n",
			      (unsigned long long)q.offset, (unsigned long long)q.limit);
	} else {
		out->len = start;
		answer_error(out, rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
	}
	if (htxn)
		mdb_txn_abort(htxn);
	mdb_txn_abort(btxn);
}

/* A JSON string of stored SIP octets: as is when valid UTF-8, else with
 * the invalid bytes read as Latin-1 (outbuf_json_string's rule). */
static json_t *safe_string(const char *p, size_t n)
{
	json_t *s = json_stringn(p, n);
	struct outbuf tmp = { 0 };
	json_error_t jerr;

	if (s)
		return s;
	outbuf_json_string(&tmp, p, n);
	s = tmp.failed ? NULL : json_loadb(tmp.data, tmp.len, JSON_DECODE_ANY, &jerr);
	outbuf_free(&tmp);
	return s ? s : json_string("");
}

static json_t *binding_details(const struct store_binding_data *b, int64_t now, uint32_t window)
{
	static const struct { const char *name; enum store_string s; } strings[] = {
		{ "call_id", STORE_STR_CALL_ID }, { "path", STORE_STR_PATH },
		{ "instance", STORE_STR_INSTANCE },
	};
	char key[STORE_BINDING_KEY_MAX];
	struct outbuf tmp = { 0 };
	struct query_row row = { .b = *b, .status = (uint8_t)query_live_status(b, now, window) };
	json_error_t jerr;
	json_t *o;
	size_t n;
	const char *p;

	/* the list columns, then every other stored field */
	query_row_json(&tmp, &row, now);
	o = tmp.failed ? NULL : json_loadb(tmp.data, tmp.len, 0, &jerr);
	outbuf_free(&tmp);
	if (!o)
		o = json_object();
	n = store_binding_key_build(b, key, sizeof(key));
	json_object_set_new(o, "binding_key", safe_string(key, n));
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		p = store_binding_string(b, strings[i].s, &n);
		json_object_set_new(o, strings[i].name, safe_string(p, n));
	}
	json_object_set_new(o, "expires_at", json_integer(b->expires_at_s));
	json_object_set_new(o, "expires_s", json_integer(b->expires_s));
	json_object_set_new(o, "cseq", json_integer(b->cseq));
	json_object_set_new(o, "reg_id", (b->flags & STORE_BINDING_HAS_REG_ID)
						 ? json_integer(b->reg_id) : json_null());
	json_object_set_new(o, "q", (b->flags & STORE_BINDING_HAS_Q)
					    ? json_real(b->q_milli / 1000.0) : json_null());
	return o;
}

static void cmd_show(struct control *c, const json_t *req, struct outbuf *out)
{
	char err[512], prefix[300];
	const char *aor = string_field(req, "aor", true, 255, err, sizeof(err));
	MDB_txn *btxn, *htxn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!aor) {
		answer_error(out, err);
		return;
	}
	if (bindings_txn(c, &btxn, err, sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	size_t pn = strlen(aor) + 1;
	memcpy(prefix, aor, pn);
	json_t *bindings = json_array();
	int64_t now = now_s();
	rc = mdb_cursor_open(btxn, c->bindings_dbi, &cur);
	if (rc == 0) {
		k.mv_size = pn;
		k.mv_data = prefix;
		for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		     rc == 0 && k.mv_size >= pn && memcmp(k.mv_data, prefix, pn) == 0;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			struct store_binding_data b;

			if (store_binding_value_decode(v.mv_data, v.mv_size, &b) == 0)
				json_array_append_new(bindings, binding_details(&b, now, expiring_window(c)));
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(btxn);
	if (rc != 0 && rc != MDB_NOTFOUND) {
		json_decref(bindings);
		answer_error(out, mdb_strerror(rc));
		return;
	}
	json_t *ans = json_pack("{sbsssO}", "ok", 1, "aor", aor, "bindings", bindings);
	json_decref(bindings);
	char *head = json_dumps(ans, JSON_COMPACT);
	json_decref(ans);
	if (!head) {
		answer_error(out, "out of memory (or a stored string is not UTF-8)");
		return;
	}
	/* history events appended as text (they may carry non-UTF-8 octets) */
	head[strlen(head) - 1] = '\0';
	outbuf_puts(out, head);
	free(head);
	if (history_txn(c, &htxn, err, sizeof(err)) == 0) {
		struct history_query h = { .limit = SHOW_HISTORY_EVENTS };

		snprintf(h.aor, sizeof(h.aor), "%s", aor);
		outbuf_append(out, ",", 1);
		size_t mark = out->len;
		if (history_list(htxn, c->history_dbi, &h, out, NULL) != 0)
			out->len = mark - 1;
		mdb_txn_abort(htxn);
	}
	outbuf_puts(out, "}\n");
}

/* Waits (bounded) until LMDB no longer holds the kicked binding(s). */
static void wait_removed(struct control *c, const char *aor, const char *bkey)
{
	char key[1024];
	size_t an = strlen(aor), kn = bkey ? strlen(bkey) : 0;
	int64_t deadline = mono_ms() + KICK_WAIT_MS;
	char err[512];

	if (an + 1 + kn > sizeof(key))
		return;
	memcpy(key, aor, an);
	key[an] = '\0';
	memcpy(key + an + 1, bkey ? bkey : "", kn);
	while (mono_ms() < deadline) {
		MDB_txn *txn;
		MDB_cursor *cur;
		MDB_val k = { .mv_size = an + 1 + kn, .mv_data = key }, v;
		bool present = false;

		if (bindings_txn(c, &txn, err, sizeof(err)) != 0)
			return;
		if (mdb_cursor_open(txn, c->bindings_dbi, &cur) == 0) {
			int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);

			present = rc == 0 && (bkey ? k.mv_size == an + 1 + kn
					      : k.mv_size >= an + 1) &&
				  memcmp(k.mv_data, key, bkey ? an + 1 + kn : an + 1) == 0;
			mdb_cursor_close(cur);
		}
		mdb_txn_abort(txn);
		if (!present)
			return;
		usleep(2000);
	}
}

/* Sends req (consumed) to the dataplane. Returns its answer when it says
 * ok; otherwise answers the error to the client and returns NULL. */
static json_t *dataplane_ok(struct control *c, json_t *req, struct outbuf *out)
{
	char err[512];
	json_t *ans = dpclient_call(c->cfg.dataplane_socket, req, err, sizeof(err));

	json_decref(req);
	if (!ans) {
		answer_error(out, err);
		return NULL;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		const char *e = json_string_value(json_object_get(ans, "error"));

		snprintf(err, sizeof(err), "dataplane: %s", e ? e : "failed");
		json_decref(ans);
		answer_error(out, err);
		return NULL;
	}
	return ans;
}

static void cmd_kick(struct control *c, const json_t *req, const struct admin_peer *peer,
		     struct outbuf *out)
{
	char err[512];
	const char *aor = string_field(req, "aor", true, 255, err, sizeof(err));
	const char *bkey = aor ? string_field(req, "binding_key", false, 511, err, sizeof(err)) : NULL;
	json_t *dpreq, *ans;

	if (!aor || !bkey) {
		answer_error(out, err);
		return;
	}
	dpreq = json_pack("{ssss}", "cmd", "kick", "aor", aor);
	if (bkey[0])
		json_object_set_new(dpreq, "binding_key", json_string(bkey));
	if ((ans = dataplane_ok(c, dpreq, out)) == NULL)
		return;
	json_int_t removed = json_integer_value(json_object_get(ans, "removed"));
	json_decref(ans);
	if (removed > 0)
		wait_removed(c, aor, bkey[0] ? bkey : NULL);
	json_t *answer = json_pack("{sbsI}", "ok", 1, "removed", removed);
	json_t *action = json_pack("{sssssI}", "action", "force-unregister", "aor", aor,
				   "removed", removed);
	if (bkey[0])
		json_object_set_new(action, "binding_key", json_string(bkey));
	record_admin(c, action, peer, req, answer);
	answer_json(out, answer);
}

/* Protection (dataplane/protection.h): the dataplane owns the XDP maps
 * and its workers' lockout tables; control forwards, and records every
 * change with who asked in history. */
static void cmd_protection(struct control *c, const char *cmd, const json_t *req,
			   const struct admin_peer *peer, struct outbuf *out)
{
	char err[512];

	/* The prefilter's maps are reachable from here too (xdp_maps.h): the
	 * drop counters then do not depend on the dataplane answering. */
	if (strcmp(cmd, "xdp_counters") == 0 && c->cfg.xdp_iface) {
		struct xdp_maps maps;
		uint64_t values[XDP_COUNT_MAX];
		if (xdp_maps_open(c->cfg.xdp_iface, &maps, err, sizeof(err)) != 0) {
			answer_error(out, err);
			return;
		}
		int rc = xdp_maps_counters(&maps, values);
		xdp_maps_close(&maps);
		if (rc != 0) {
			answer_error(out, "cannot read the XDP counters");
			return;
		}
		json_t *o = json_object();
		for (unsigned i = 0; i < XDP_COUNT_MAX; i++)
			json_object_set_new(o, xdp_counter_name(i), json_integer((json_int_t)values[i]));
		answer_json(out, json_pack("{s:b,s:s,s:o}", "ok", 1, "source", "xdp maps", "counters", o));
		return;
	}
	bool change = strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0 ||
		      strcmp(cmd, "allow") == 0 || strcmp(cmd, "disallow") == 0;
	json_t *dpreq = json_deep_copy(req), *ans;

	if (!dpreq) {
		answer_error(out, "out of memory");
		return;
	}
	if (change && !json_is_string(json_object_get(req, "cidr"))) {
		json_decref(dpreq);
		answer_error(out, "needs \"cidr\": an address or prefix, e.g. 198.18.1.0/24");
		return;
	}
	if ((ans = dataplane_ok(c, dpreq, out)) == NULL)
		return;
	if (change) {
		json_t *action = json_pack("{sssO}", "action", cmd, "cidr", json_object_get(req, "cidr"));
		json_t *duration = json_object_get(req, "duration_s");
		if (duration)
			json_object_set(action, "duration_s", duration);
		record_admin(c, action, peer, req, ans);
	}
	answer_json(out, ans);
}

static void cmd_export(struct control *c, const json_t *req, struct outbuf *out,
		       struct admin_stream *stream)
{
	struct query_options q;
	char err[512];
	const json_t *fmt = json_object_get(req, "format");
	bool csv = true;
	int rc;

	if (query_options_from_json(req, &q, err, sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	if (fmt && !json_is_null(fmt)) {
		if (!json_is_string(fmt) || (strcmp(json_string_value(fmt), "csv") != 0 &&
					     strcmp(json_string_value(fmt), "json") != 0)) {
			answer_error(out, "field 'format' must be \"csv\" or \"json\"");
			return;
		}
		csv = strcmp(json_string_value(fmt), "csv") == 0;
	}
	if (q.filter.status_mask & (1u << QSTATUS_UNREGISTERED)) {
		answer_error(out, "export covers live bindings; use history for unregistered ones");
		return;
	}
	if (q.sort != QCOL_AOR || q.desc) {
		answer_error(out, "export streams in AOR order; 'sort'/'desc' are for list");
		return;
	}
	q.expiring_window_s = expiring_window(c);
	memset(stream, 0, sizeof(*stream));
	if (bindings_txn(c, &stream->txn, err, sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	rc = query_export_begin(&stream->ex, stream->txn, c->bindings_dbi, &q, csv, now_s());
	if (rc != 0) {
		mdb_txn_abort(stream->txn);
		stream->txn = NULL;
		answer_error(out, mdb_strerror(rc));
		return;
	}
	stream->active = true;
	outbuf_printf(out, "{\"ok\":true,\"stream\":\"%s\",\"end\":\".\"}\n", csv ? "csv" : "json");
	if (csv)
		query_csv_header(out);
}

void admin_stream_next(struct admin_stream *s, struct outbuf *out, long max_rows)
{
	int rc;
	long n;

	if (!s->active)
		return;
	n = query_export_next(&s->ex, out, max_rows, &rc);
	if (n < 0) {
		outbuf_puts(out, ".\n");
		answer_error(out, mdb_strerror(rc));
		admin_stream_end(s);
	} else if (n == 0) {
		outbuf_printf(out, ".\n{\"ok\":true,\"rows\":%llu}\n",
			      (unsigned long long)s->ex.rows);
		admin_stream_end(s);
	}
}

void admin_stream_end(struct admin_stream *s)
{
	query_export_end(&s->ex);
	if (s->txn)
		mdb_txn_abort(s->txn);
	s->txn = NULL;
	s->active = false;
}

static void cmd_history(struct control *c, const json_t *req, struct outbuf *out)
{
	struct history_query h;
	char err[512];
	MDB_txn *txn;
	uint64_t n;
	int rc;

	if (history_query_from_json(req, &h, err, sizeof(err)) != 0 ||
	    history_txn(c, &txn, err, sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	size_t start = out->len;
	outbuf_puts(out, "{\"ok\":true,");
	rc = history_list(txn, c->history_dbi, &h, out, &n);
	mdb_txn_abort(txn);
	if (rc != 0) {
		out->len = start;
		answer_error(out, mdb_strerror(rc));
		return;
	}
	outbuf_printf(out, ",\"count\":%llu}\n", (unsigned long long)n);
}

/* --- stats --- */

static uint64_t counter_total(const struct stats_shm *s, unsigned counter)
{
	uint64_t t = 0;

	for (uint32_t w = 0; w < s->n_workers && w < STATS_SHM_MAX_WORKERS; w++)
		t += s->workers[w].counters[counter];
	return t;
}

static void take_sample(const struct stats_shm *s, struct rate_sample *r, int64_t at_ms)
{
	r->valid = true;
	r->at_ms = at_ms;
	r->pid = s->pid;
	r->rx_register = counter_total(s, STAT_rx_register);
	r->auth_failed = counter_total(s, STAT_auth_failed);
	r->rx_packets = counter_total(s, STAT_rx_packets);
	r->reply_200 = counter_total(s, STAT_reply_200);
}

void control_tick(struct control *c, int64_t now_ms)
{
	const struct stats_shm *s = stats_shm_open(c->stats_path);

	if (!s) {
		c->older.valid = c->newer.valid = false;
		return;
	}
	c->older = c->newer;
	take_sample(s, &c->newer, now_ms);
	if (c->older.valid && c->older.pid != c->newer.pid)
		c->older.valid = false;
	stats_shm_close(s);
}

static json_t *rate(uint64_t now_v, uint64_t then_v, int64_t dt_ms)
{
	if (dt_ms <= 0 || now_v < then_v)
		return json_null();
	return json_real((double)(now_v - then_v) * 1000.0 / (double)dt_ms);
}

static void cmd_stats(struct control *c, struct outbuf *out)
{
	const struct stats_shm *s = stats_shm_open(c->stats_path);
	char err[512];
	json_t *ans, *totals, *drops, *workers, *rates;
	MDB_txn *txn;

	if (!s) {
		snprintf(err, sizeof(err), "cannot read the dataplane's stats file %.200s: %s "
			 "(is sipreg-dataplane running with this instance and stats_dir?)",
			 c->stats_path, strerror(errno));
		answer_error(out, err);
		return;
	}
	ans = ok_object();
	totals = json_object();
	drops = json_object();
	workers = json_array();
	for (unsigned k = 0; k < STATS_COUNTER_COUNT && k < s->n_counters; k++) {
		const char *name = stats_counter_name(k);
		uint64_t t = counter_total(s, k);

		json_object_set_new(totals, name, json_integer((json_int_t)t));
		if (strncmp(name, "drop_", 5) == 0)
			json_object_set_new(drops, name + 5, json_integer((json_int_t)t));
	}
	for (uint32_t w = 0; w < s->n_workers && w < STATS_SHM_MAX_WORKERS; w++) {
		json_t *row = json_object();

		json_object_set_new(row, "worker", json_integer(w));
		for (unsigned k = 0; k < STATS_COUNTER_COUNT && k < s->n_counters; k++)
			json_object_set_new(row, stats_counter_name(k),
					    json_integer((json_int_t)s->workers[w].counters[k]));
		json_array_append_new(workers, row);
	}
	uint64_t p50_ns = stats_latency_quantile_ns(s, 0.50), p99_ns = stats_latency_quantile_ns(s, 0.99);
	struct rate_sample cur;
	int64_t ms = mono_ms();
	take_sample(s, &cur, ms);
	const struct rate_sample *base = c->older.valid && c->older.pid == cur.pid ? &c->older
				       : c->newer.valid && c->newer.pid == cur.pid ? &c->newer : NULL;
	rates = json_object();
	json_object_set_new(rates, "registrations_per_s",
			    base ? rate(cur.rx_register, base->rx_register, ms - base->at_ms) : json_null());
	json_object_set_new(rates, "auth_failures_per_s",
			    base ? rate(cur.auth_failed, base->auth_failed, ms - base->at_ms) : json_null());
	json_object_set_new(rates, "packets_per_s",
			    base ? rate(cur.rx_packets, base->rx_packets, ms - base->at_ms) : json_null());
	json_object_set_new(rates, "over_ms", json_integer(base ? ms - base->at_ms : 0));
	json_object_set_new(ans, "dataplane",
			    json_pack("{sIsIsIsb}", "pid", (json_int_t)s->pid, "workers",
				      (json_int_t)s->n_workers, "started_at",
				      (json_int_t)s->started_at_s, "ready", s->ready != 0));
	stats_shm_close(s);
	if (bindings_txn(c, &txn, err, sizeof(err)) == 0) {
		MDB_stat st;

		if (mdb_stat(txn, c->bindings_dbi, &st) == 0)
			json_object_set_new(ans, "active_registrations", json_integer((json_int_t)st.ms_entries));
		mdb_txn_abort(txn);
	} else {
		json_object_set_new(ans, "active_registrations", json_null());
	}
	json_object_set_new(ans, "rates", rates);
	json_object_set_new(ans, "drops", drops);
	json_object_set_new(ans, "totals", totals);
	json_object_set_new(ans, "workers", workers);
	json_object_set_new(ans, "processing_time",
			    p50_ns ? json_pack("{sfsfss}", "p50_us", (double)p50_ns / 1000.0, "p99_us",
					       (double)p99_ns / 1000.0, "note",
					       "per request, decode to transmit; upper bound of a power-of-two "
					       "bucket (dataplane/stats_shm.h)")
				   : json_pack("{snsnss}", "p50_us", "p99_us", "note",
					       "no request processed yet"));
	answer_json(out, ans);
}

/* --- accounts --- */

static json_t *account_json(const struct store_account *a)
{
	json_t *cidrs = json_array();

	for (unsigned i = 0; i < a->n_cidrs && i < STORE_ACCOUNT_MAX_CIDRS; i++) {
		char buf[64];

		if (store_cidr_format(&a->cidrs[i], buf, sizeof(buf)) == 0)
			json_array_append_new(cidrs, json_string(buf));
	}
	const char *mode = store_auth_mode_name((enum store_auth_mode)a->auth_mode);
	return json_pack("{s:s%,s:s%,s:s,s:s%,s:o,s:I,s:I,s:I,s:b}",
			 "username", a->username, strnlen(a->username, sizeof(a->username)),
			 "account", a->account, strnlen(a->account, sizeof(a->account)),
			 "auth_mode", mode ? mode : "?",
			 "realm", a->realm, strnlen(a->realm, sizeof(a->realm)),
			 "cidrs", cidrs,
			 "max_bindings", (json_int_t)a->max_bindings,
			 "min_expires_s", (json_int_t)a->min_expires_s,
			 "max_expires_s", (json_int_t)a->max_expires_s,
			 "has_ha1", a->ha1_md5[0] != '\0');
}

struct accounts_list_ctx {
	json_t *rows;
	const char *prefix;
	uint64_t offset, limit, matched;
};

static int accounts_list_one(const struct store_account *a, void *arg)
{
	struct accounts_list_ctx *x = arg;

	if (x->prefix[0] && strncmp(a->username, x->prefix, strlen(x->prefix)) != 0)
		return 0;
	if (x->matched++ >= x->offset && json_array_size(x->rows) < x->limit)
		json_array_append_new(x->rows, account_json(a));
	return 0;
}

static void cmd_accounts_list(struct control *c, const json_t *req, struct outbuf *out)
{
	char err[256];
	struct accounts_list_ctx x = { .limit = QUERY_DEFAULT_LIMIT };
	const json_t *v;
	int rc;

	x.prefix = string_field(req, "prefix", false, 63, err, sizeof(err));
	if (!x.prefix) {
		answer_error(out, err);
		return;
	}
	if ((v = json_object_get(req, "offset")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			answer_error(out, "field 'offset' must be an integer >= 0");
			return;
		}
		x.offset = (uint64_t)json_integer_value(v);
	}
	if ((v = json_object_get(req, "limit")) && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > QUERY_MAX_PAGE) {
			answer_error(out, "field 'limit' must be an integer from 0 to 10000");
			return;
		}
		x.limit = (uint64_t)json_integer_value(v);
	}
	x.rows = json_array();
	rc = store_account_foreach(c->config, accounts_list_one, &x, NULL);
	if (rc != 0) {
		json_decref(x.rows);
		answer_error(out, mdb_strerror(rc));
		return;
	}
	answer_json(out, json_pack("{sbsIso}", "ok", 1, "total", (json_int_t)x.matched, "rows",
				   x.rows));
}

/* Tells the dataplane to reload accounts; notes the outcome in answer. */
static void reload_accounts(struct control *c, json_t *answer)
{
	char err[512];
	json_t *req = json_pack("{ss}", "cmd", "reload_accounts");
	json_t *ans = dpclient_call(c->cfg.dataplane_socket, req, err, sizeof(err));

	json_decref(req);
	if (ans && json_is_true(json_object_get(ans, "ok"))) {
		json_object_set_new(answer, "dataplane", json_string("reloaded"));
	} else {
		const char *e = ans ? json_string_value(json_object_get(ans, "error")) : err;
		char msg[700];

		snprintf(msg, sizeof(msg), "not reloaded (%s); the dataplane loads accounts at "
			 "its next start", e ? e : "error");
		json_object_set_new(answer, "dataplane", json_string(msg));
	}
	json_decref(ans);
}

static void cmd_account_put(struct control *c, const json_t *req, const struct admin_peer *peer,
			    bool update, struct outbuf *out)
{
	struct store_account a, old;
	char err[512], secret[128];
	const char *username = string_field(req, "username", true, STORE_ACCOUNT_NAME_MAX - 1, err,
					    sizeof(err));
	int rc;

	if (!username) {
		answer_error(out, err);
		return;
	}
	rc = store_account_get(c->config, username, &old);
	if (!update && rc == 0) {
		snprintf(err, sizeof(err), "account '%s' exists (use account_update)", username);
		answer_error(out, err);
		return;
	}
	if (update && rc != 0) {
		snprintf(err, sizeof(err), "account '%s' %s", username,
			 rc == MDB_NOTFOUND ? "does not exist (use account_add)" : mdb_strerror(rc));
		answer_error(out, err);
		return;
	}
	if (update && old.ha1_md5[0])
		snprintf(secret, sizeof(secret), "ha1:%s:%s", old.ha1_md5, old.ha1_sha256);
	else
		secret[0] = '\0';
	/* a kept HA1 was made with the stored realm; a new password uses ours */
	const char *realm = update && !json_object_get(req, "password") && old.realm[0]
				    ? old.realm : c->cfg.realm;
	if (account_from_request(req, realm, update ? secret : NULL, update ? &old : NULL, &a, err,
				 sizeof(err)) != 0) {
		answer_error(out, err);
		return;
	}
	rc = store_account_put(c->config, &a);
	if (rc != 0) {
		answer_error(out, rc == EINVAL ? "account fails validation" : mdb_strerror(rc));
		return;
	}
	json_t *answer = json_pack("{sbso}", "ok", 1, "account", account_json(&a));
	record_admin(c, json_pack("{ssss}", "action", update ? "account-update" : "account-add",
				  "username", a.username), peer, req, answer);
	reload_accounts(c, answer);
	answer_json(out, answer);
}

static void cmd_account_remove(struct control *c, const json_t *req,
			       const struct admin_peer *peer, struct outbuf *out)
{
	char err[512];
	const char *username = string_field(req, "username", true, STORE_ACCOUNT_NAME_MAX - 1, err,
					    sizeof(err));
	int rc;

	if (!username) {
		answer_error(out, err);
		return;
	}
	rc = store_account_delete(c->config, username);
	if (rc != 0) {
		snprintf(err, sizeof(err), "account '%s': %s", username,
			 rc == MDB_NOTFOUND ? "does not exist" : mdb_strerror(rc));
		answer_error(out, err);
		return;
	}
	json_t *answer = ok_object();
	record_admin(c, json_pack("{ssss}", "action", "account-remove", "username", username), peer,
		     req, answer);
	reload_accounts(c, answer);
	answer_json(out, answer);
}

static void cmd_accounts_import(struct control *c, const json_t *req,
				const struct admin_peer *peer, struct outbuf *out)
{
	const json_t *csv = json_object_get(req, "csv"), *reload = json_object_get(req, "reload");
	struct store_import_stats st = { 0 };
	char err[512];
	FILE *f;
	int rc;

	if (!json_is_string(csv) || json_string_length(csv) == 0) {
		answer_error(out, "field 'csv' must be a non-empty string (CSV rows: username, "
			     "secret, account, auth_mode, cidrs, max_bindings, min_expires, max_expires)");
		return;
	}
	if (reload && !json_is_boolean(reload)) {
		answer_error(out, "field 'reload' must be true or false");
		return;
	}
	f = fmemopen((void *)json_string_value(csv), json_string_length(csv), "r");
	if (!f) {
		answer_error(out, "out of memory");
		return;
	}
	rc = store_account_import_csv(c->config, f, c->cfg.realm, &st, err, sizeof(err));
	fclose(f);
	json_t *answer = rc == 0 ? ok_object() : json_pack("{sbss}", "ok", 0, "error", err);
	json_object_set_new(answer, "rows", json_integer((json_int_t)st.rows));
	json_object_set_new(answer, "imported", json_integer((json_int_t)st.imported));
	if (st.imported > 0)
		record_admin(c, json_pack("{sssI}", "action", "accounts-import", "imported",
					  (json_int_t)st.imported), peer, req, answer);
	if (st.imported > 0 && !json_is_false(reload))
		reload_accounts(c, answer);
	answer_json(out, answer);
}

/* --- policy --- */

static void cmd_policy_set(struct control *c, const json_t *req, const struct admin_peer *peer,
			   struct outbuf *out)
{
	char err[512];
	json_t *changes, *pol;

	pol = policy_apply_set(c->policy, json_object_get(req, "set"), &changes, err, sizeof(err));
	if (!pol) {
		answer_error(out, err);
		return;
	}
	json_t *explicit = json_deep_copy(c->policy_explicit);
	json_object_update(explicit, json_object_get(req, "set"));
	if (policy_save(c->config, explicit, err, sizeof(err)) != 0) {
		json_decref(explicit);
		json_decref(pol);
		json_decref(changes);
		answer_error(out, err);
		return;
	}
	json_decref(c->policy);
	c->policy = pol;
	json_decref(c->policy_explicit);
	c->policy_explicit = explicit;
	json_t *answer = json_pack("{sbsOsO}", "ok", 1, "policy", pol, "changes", changes);
	record_admin(c, json_pack("{sssO}", "action", "policy-set", "changes", changes), peer, req,
		     answer);
	json_decref(changes);

	json_t *dpreq = json_pack("{ss}", "cmd", "reload_policy");
	json_t *ans = dpclient_call(c->cfg.dataplane_socket, dpreq, err, sizeof(err));
	json_decref(dpreq);
	const char *e = ans ? json_string_value(json_object_get(ans, "error")) : NULL;
	if (ans && json_is_true(json_object_get(ans, "ok")))
		json_object_set_new(answer, "applied", json_string("applied to the running dataplane"));
	else if (ans && e && strstr(e, "unknown"))
		json_object_set_new(answer, "applied", json_string(
			"stored; applies at the next dataplane start (this dataplane has no "
			"reload_policy command)"));
	else
		json_object_set_new(answer, "applied", json_string(
			"stored; applies at the next dataplane start (dataplane not reached)"));
	json_decref(ans);
	answer_json(out, answer);
}

void admin_handle_line(struct control *c, const char *line, size_t len,
		       const struct admin_peer *peer, struct outbuf *out,
		       struct admin_stream *stream)
{
	char err[512];
	const char *cmd;
	json_t *req = admin_request_parse(line, len, &cmd, err, sizeof(err));
	size_t start = out->len;

	if (!req) {
		answer_error(out, err);
		return;
	}
	if (strcmp(cmd, "ping") == 0)
		answer_json(out, json_pack("{sbsisi}", "ok", 1, "version", ADMIN_PROTOCOL_VERSION,
					   "pid", (int)getpid()));
	else if (strcmp(cmd, "list") == 0)
		cmd_list(c, req, out);
	else if (strcmp(cmd, "show") == 0)
		cmd_show(c, req, out);
	else if (strcmp(cmd, "kick") == 0)
		cmd_kick(c, req, peer, out);
	else if (strcmp(cmd, "export") == 0)
		cmd_export(c, req, out, stream);
	else if (strcmp(cmd, "history") == 0)
		cmd_history(c, req, out);
	else if (strcmp(cmd, "stats") == 0)
		cmd_stats(c, out);
	else if (strcmp(cmd, "accounts_list") == 0)
		cmd_accounts_list(c, req, out);
	else if (strcmp(cmd, "account_add") == 0)
		cmd_account_put(c, req, peer, false, out);
	else if (strcmp(cmd, "account_update") == 0)
		cmd_account_put(c, req, peer, true, out);
	else if (strcmp(cmd, "account_remove") == 0)
		cmd_account_remove(c, req, peer, out);
	else if (strcmp(cmd, "accounts_import") == 0)
		cmd_accounts_import(c, req, peer, out);
	else if (strcmp(cmd, "accounts_reload") == 0) {
		json_t *answer = ok_object();
		reload_accounts(c, answer);
		answer_json(out, answer);
	} else if (strcmp(cmd, "policy_get") == 0)
		answer_json(out, json_pack("{sbsO}", "ok", 1, "policy", c->policy));
	else if (strcmp(cmd, "policy_set") == 0)
		cmd_policy_set(c, req, peer, out);
	else if (strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0 || strcmp(cmd, "allow") == 0 ||
		 strcmp(cmd, "disallow") == 0 || strcmp(cmd, "blocks") == 0 ||
		 strcmp(cmd, "allowlist") == 0 || strcmp(cmd, "xdp_counters") == 0)
		cmd_protection(c, cmd, req, peer, out);
	json_decref(req);
	if (out->failed) {
		out->failed = false;
		out->len = start;
		answer_error(out, "out of memory");
	}
}
