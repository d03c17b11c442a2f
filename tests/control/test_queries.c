/*
 * tests/control/test_queries.c - the admin API end to end in-process
 * (admin_handle_line) over a small state dir: every list filter alone and
 * combined, sorting, paging, count, status from the live table and from
 * history, show, streaming export (CSV and JSON lines), history with admin
 * records, accounts, policy, and errors that name the problem.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "admin.h"
#include "checkpoint.h"
#include "history.h"
#include "lmdb_records.h"

static char dir[64];
static struct control ctl;
static int64_t now;

struct row {
	const char *aor, *contact, *ip, *ua, *account;
	int64_t left_s;          /* expires_at - now */
};

static const struct row rows[] = {
	{ "sip:1001@sipreg.test", "sip:1001@192.168.1.10:5060", "192.168.1.10", "Yealink SIP-T46S", "acme", 3000 },
	{ "sip:1001@sipreg.test", "sip:1001@10.0.0.5:5062", "10.0.0.5", "Grandstream GXP", "acme", 30 },
	{ "sip:1002@sipreg.test", "sip:1002@192.168.2.20", "192.168.2.20", "Yealink W60", "globex", 1000 },
	{ "sip:2001@other.test", "sip:2001@[2001:db8::5]", "2001:db8::5", "Zoiper, \"beta\"", "globex", -10 },
};

static void put_string(struct store_binding_data *b, enum store_string s, const char *v, size_t *off)
{
	size_t n = strlen(v);

	memcpy(b->str + *off, v, n);
	b->str_len[s] = (uint16_t)n;
	*off += n;
}

static void make_binding(struct store_binding_data *b, const struct row *r)
{
	size_t off = 0;

	memset(b, 0, sizeof(*b));
	b->expires_s = 3600;
	b->expires_at_s = now + r->left_s;
	b->refreshed_at_s = b->expires_at_s - 3600;
	b->registered_at_s = b->refreshed_at_s - 100;
	b->cseq = 7;
	b->source.port = 5060;
	if (strchr(r->ip, ':')) {
		b->source.family = AF_INET6;
		inet_pton(AF_INET6, r->ip, b->source.addr);
	} else {
		b->source.family = AF_INET;
		inet_pton(AF_INET, r->ip, b->source.addr);
	}
	put_string(b, STORE_STR_AOR, r->aor, &off);
	put_string(b, STORE_STR_CONTACT, r->contact, &off);
	put_string(b, STORE_STR_CALL_ID, "call-1", &off);
	put_string(b, STORE_STR_USER_AGENT, r->ua, &off);
	put_string(b, STORE_STR_ACCOUNT, r->account, &off);
}

static void put_event(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, enum store_event_type type,
		      const struct row *r, int64_t at)
{
	struct store_event ev = { .version = STORE_RECORD_VERSION, .type = (uint8_t)type,
				  .seq = seq, .at_s = at };

	if (type == STORE_EVENT_AUTH_FAILED)
		ev.reason = STORE_AUTH_FAILURE_WRONG_CREDENTIALS;
	uint8_t key[STORE_HISTORY_KEY_BYTES];

	make_binding(&ev.binding, r);
	store_history_key_build(at, seq, key);
	MDB_val k = { .mv_size = sizeof(key), .mv_data = key };
	MDB_val v = { .mv_size = store_event_used_size(&ev), .mv_data = &ev };
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
}

static int setup(void **state)
{
	struct store_lmdb_config cfg = { .state_dir = dir, .no_sync = true };
	struct store_lmdb *l;
	MDB_txn *txn;
	char err[512];

	(void)state;
	now = (int64_t)time(NULL);
	snprintf(dir, sizeof(dir), "/tmp/sipreg-test-control-XXXXXX");
	if (!mkdtemp(dir) || store_lmdb_open(&cfg, &l) != 0)
		return -1;
	if (mdb_txn_begin(store_lmdb_bindings_env(l), NULL, 0, &txn) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct { struct store_binding_value_header h; struct store_binding_data b; } v;
		char key[STORE_BINDING_KEY_MAX];

		memset(&v, 0, sizeof(v));
		v.h.version = STORE_RECORD_VERSION;
		make_binding(&v.b, &rows[i]);
		MDB_val k = { .mv_size = store_binding_lmdb_key_build(&v.b, key, sizeof(key)), .mv_data = key };
		MDB_val d = { .mv_size = sizeof(v.h) + store_binding_data_used_size(&v.b), .mv_data = &v };
		if (mdb_put(txn, store_lmdb_bindings_dbi(l), &k, &d, 0) != 0)
			return -1;
	}
	if (mdb_txn_commit(txn) != 0)
		return -1;
	/* history: 1003 registered then force-unregistered (gone); 1002 was
	 * unregistered once but registered again (live: not "unregistered") */
	static const struct row gone = { "sip:1003@sipreg.test", "sip:1003@192.168.1.30", "192.168.1.30",
					 "Yealink T21", "acme", 100 };
	if (mdb_txn_begin(store_lmdb_history_env(l), NULL, 0, &txn) != 0)
		return -1;
	put_event(txn, store_lmdb_history_dbi(l), 1, STORE_EVENT_REGISTERED, &gone, now - 50);
	put_event(txn, store_lmdb_history_dbi(l), 2, STORE_EVENT_UNREGISTERED, &rows[2], now - 40);
	put_event(txn, store_lmdb_history_dbi(l), 3, STORE_EVENT_REGISTERED, &rows[2], now - 30);
	put_event(txn, store_lmdb_history_dbi(l), 4, STORE_EVENT_FORCE_UNREGISTERED, &gone, now - 20);
	/* a later failed login for the same AOR and contact must not hide it */
	put_event(txn, store_lmdb_history_dbi(l), 5, STORE_EVENT_AUTH_FAILED, &gone, now - 10);
	if (mdb_txn_commit(txn) != 0)
		return -1;
	store_lmdb_close(l);

	struct control_config cc = { .state_dir = dir, .stats_dir = dir, .instance = "t",
				     .dataplane_socket = "/nonexistent/dataplane.sock",
				     .realm = "sipreg.test" };
	return control_open(&ctl, &cc, err, sizeof(err));
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	control_close(&ctl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* One request; returns the parsed answer. */
static json_t *ask(const char *fmt, ...)
{
	char req[2048];
	struct outbuf out = { 0 };
	struct admin_stream st = { 0 };
	struct admin_peer peer = { .known = true, .uid = 0, .pid = 42 };
	json_error_t e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	admin_handle_line(&ctl, req, strlen(req), &peer, &out, &st);
	assert_false(st.active);
	assert_true(out.len > 0 && out.data[out.len - 1] == '\n');
	assert_null(memchr(out.data, '\n', out.len - 1));   /* one line */
	json_t *ans = json_loadb(out.data, out.len, 0, &e);
	if (!ans)
		fail_msg("answer is not JSON: %.*s", (int)out.len, out.data);
	outbuf_free(&out);
	return ans;
}

/* The "received" IPs of a list answer, comma-joined, in order. */
static const char *ips(json_t *ans)
{
	static char buf[512];
	size_t i, n = 0;
	json_t *r;

	buf[0] = '\0';
	assert_true(json_is_true(json_object_get(ans, "ok")));
	json_array_foreach(json_object_get(ans, "rows"), i, r) {
		const char *rc = json_string_value(json_object_get(r, "received"));
		const char *colon = strrchr(rc, ':');
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s", i ? "," : "",
				      (int)(colon - rc), rc);
	}
	json_decref(ans);
	return buf;
}

static void test_list_without_filter_is_every_live_binding_in_aor_order(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"list\"}");
	assert_int_equal(json_integer_value(json_object_get(a, "total")), 4);
	assert_string_equal(ips(a), "10.0.0.5,192.168.1.10,192.168.2.20,[2001:db8::5]");
}

static void test_list_each_filter_alone(void **state)
{
	(void)state;
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"aor\":\"sip:1001@sipreg.test\"}")),
			    "10.0.0.5,192.168.1.10");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"aor\":\"sip:1001\"}")), "");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"aor_prefix\":\"sip:100\"}")),
			    "10.0.0.5,192.168.1.10,192.168.2.20");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"ip\":\"192.168.1.10\"}")), "192.168.1.10");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"ip\":\"192.168.0.0/16\"}")),
			    "192.168.1.10,192.168.2.20");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"ip\":\"192.168.2.x\"}")), "192.168.2.20");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"ip\":\"2001:db8::/32\"}")), "[2001:db8::5]");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"account\":\"globex\"}")),
			    "192.168.2.20,[2001:db8::5]");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"user_agent\":\"Yealink\"}")),
			    "192.168.1.10,192.168.2.20");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"status\":\"expiring\"}")), "10.0.0.5");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"status\":\"expired\"}")), "[2001:db8::5]");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"status\":\"registered\"}")),
			    "192.168.1.10,192.168.2.20");
}

static void test_list_by_number_exact_and_prefix(void **state)
{
	(void)state;
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"number\":\"1002\"}")), "192.168.2.20");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"number\":\"100\"}")), "");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"number_prefix\":\"20\"}")), "[2001:db8::5]");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"number_prefix\":\"100\",\"account\":\"acme\"}")),
			    "10.0.0.5,192.168.1.10");
}

static void test_list_filters_combine(void **state)
{
	(void)state;
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"user_agent\":\"Yealink\",\"account\":\"globex\"}")),
			    "192.168.2.20");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"aor_prefix\":\"sip:1001\",\"ip\":\"10.x.x.x\"}")),
			    "10.0.0.5");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"ip\":\"192.168.x.x\",\"status\":\"expiring\"}")), "");
}

static void test_unregistered_comes_from_history_with_its_reason(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"list\",\"status\":\"unregistered\"}");
	json_t *rows_ = json_object_get(a, "rows");
	assert_int_equal(json_array_size(rows_), 1);   /* 1002 came back: not listed */
	json_t *r = json_array_get(rows_, 0);
	assert_string_equal(json_string_value(json_object_get(r, "aor")), "sip:1003@sipreg.test");
	assert_string_equal(json_string_value(json_object_get(r, "status")), "unregistered");
	assert_string_equal(json_string_value(json_object_get(r, "reason")), "force-unregistered");
	assert_int_equal(json_integer_value(json_object_get(r, "unregistered_at")), now - 20);
	json_decref(a);
	a = ask("{\"cmd\":\"list\",\"status\":[\"unregistered\",\"expiring\"],\"count\":true}");
	assert_int_equal(json_integer_value(json_object_get(a, "total")), 2);
	json_decref(a);
}

static void test_list_sorts_by_any_column_and_pages(void **state)
{
	(void)state;
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"sort\":\"expires_in_s\"}")),
			    "[2001:db8::5],10.0.0.5,192.168.2.20,192.168.1.10");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"sort\":\"expires_in_s\",\"desc\":true}")),
			    "192.168.1.10,192.168.2.20,10.0.0.5,[2001:db8::5]");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"sort\":\"user_agent\"}")),
			    "10.0.0.5,192.168.1.10,192.168.2.20,[2001:db8::5]");
	assert_string_equal(ips(ask("{\"cmd\":\"list\",\"sort\":\"received\"}")),
			    "10.0.0.5,192.168.1.10,192.168.2.20,[2001:db8::5]");
	json_t *a = ask("{\"cmd\":\"list\",\"sort\":\"expires_in_s\",\"offset\":1,\"limit\":2}");
	assert_int_equal(json_integer_value(json_object_get(a, "total")), 4);
	assert_string_equal(ips(a), "10.0.0.5,192.168.2.20");
	a = ask("{\"cmd\":\"list\",\"offset\":10}");
	assert_string_equal(ips(a), "");
	a = ask("{\"cmd\":\"list\",\"count\":true,\"account\":\"acme\"}");
	assert_int_equal(json_integer_value(json_object_get(a, "total")), 2);
	assert_null(json_object_get(a, "rows"));
	json_decref(a);
}

static void test_list_row_has_every_column(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"list\",\"ip\":\"192.168.1.10\"}");
	json_t *r = json_array_get(json_object_get(a, "rows"), 0);
	static const char *const cols[] = { "aor", "contact", "received", "transport", "expires_in_s",
					    "account", "user_agent", "registered_at", "refreshed_at",
					    "status", "nat" };
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		assert_non_null(json_object_get(r, cols[i]));
	assert_string_equal(json_string_value(json_object_get(r, "received")), "192.168.1.10:5060");
	assert_string_equal(json_string_value(json_object_get(r, "transport")), "udp");
	assert_true(json_integer_value(json_object_get(r, "expires_in_s")) <= 3000);
	assert_true(json_is_false(json_object_get(r, "nat")));
	json_decref(a);
}

/* Runs an export; returns everything streamed after the header line. */
static char *export(const char *req, json_t **header, json_t **trailer)
{
	struct outbuf out = { 0 };
	struct admin_stream st = { 0 };
	json_error_t e;

	admin_handle_line(&ctl, req, strlen(req), NULL, &out, &st);
	assert_true(st.active);
	while (st.active)
		admin_stream_next(&st, &out, 1);   /* one row per chunk */
	outbuf_append(&out, "", 1);
	char *nl = strchr(out.data, '\n');
	*header = json_loadb(out.data, (size_t)(nl - out.data), 0, &e);
	char *end = strstr(nl, "\n.\n");
	assert_non_null(end);
	*trailer = json_loads(end + 3, 0, &e);
	char *body = strndup(nl + 1, (size_t)(end + 1 - (nl + 1)));
	outbuf_free(&out);
	return body;
}

static void test_export_csv_streams_rfc4180_rows(void **state)
{
	json_t *h, *t;
	char *body = export("{\"cmd\":\"export\",\"format\":\"csv\"}", &h, &t);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(h, "stream")), "csv");
	assert_int_equal(json_integer_value(json_object_get(t, "rows")), 4);
	assert_true(json_is_true(json_object_get(t, "ok")));
	assert_true(strncmp(body, "aor,contact,received,transport,expires_in_s,account,user_agent,"
				  "registered_at,refreshed_at,status,nat\n", 97) == 0);
	assert_non_null(strstr(body, "\nsip:2001@other.test,sip:2001@[2001:db8::5],[2001:db8::5]:5060,"
				     "udp,0,globex,\"Zoiper, \"\"beta\"\"\","));
	assert_non_null(strstr(body, ",expired,no\n"));
	int lines = 0;
	for (char *p = body; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 5);
	free(body);
	json_decref(h);
	json_decref(t);
}

static void test_export_json_lines_with_a_filter(void **state)
{
	json_t *h, *t;
	char *body = export("{\"cmd\":\"export\",\"format\":\"json\",\"ip\":\"192.168.x.x\"}", &h, &t);
	json_error_t e;
	int n = 0;

	(void)state;
	for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n"), n++) {
		json_t *r = json_loads(line, 0, &e);
		assert_non_null(r);
		assert_int_equal(strncmp(json_string_value(json_object_get(r, "received")), "192.168.", 8), 0);
		json_decref(r);
	}
	assert_int_equal(n, 2);
	assert_int_equal(json_integer_value(json_object_get(t, "rows")), 2);
	free(body);
	json_decref(h);
	json_decref(t);
}

static void test_export_refuses_what_it_cannot_stream(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"export\",\"format\":\"xml\"}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "format"));
	json_decref(a);
	a = ask("{\"cmd\":\"export\",\"sort\":\"user_agent\"}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "AOR order"));
	json_decref(a);
}

static void test_show_lists_every_field_and_recent_history(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"show\",\"aor\":\"sip:1002@sipreg.test\"}");
	json_t *b = json_array_get(json_object_get(a, "bindings"), 0);
	assert_int_equal(json_array_size(json_object_get(a, "bindings")), 1);
	assert_string_equal(json_string_value(json_object_get(b, "call_id")), "call-1");
	assert_string_equal(json_string_value(json_object_get(b, "binding_key")), "sip:1002@192.168.2.20");
	assert_int_equal(json_integer_value(json_object_get(b, "cseq")), 7);
	assert_int_equal(json_integer_value(json_object_get(b, "expires_s")), 3600);
	json_t *ev = json_object_get(a, "events");
	assert_int_equal(json_array_size(ev), 2);   /* newest first */
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "event")), "registered");
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "event")), "unregistered");
	json_decref(a);
	a = ask("{\"cmd\":\"show\",\"aor\":\"sip:nobody@sipreg.test\"}");
	assert_int_equal(json_array_size(json_object_get(a, "bindings")), 0);
	json_decref(a);
	a = ask("{\"cmd\":\"show\"}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "aor"));
	json_decref(a);
}

static void test_kick_without_dataplane_says_so_and_records_nothing(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"kick\",\"aor\":\"sip:1001@sipreg.test\"}");
	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "dataplane not running"));
	json_decref(a);
}

static void test_history_by_aor_ip_type_and_time(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"history\",\"aor\":\"sip:1003@sipreg.test\"}");
	assert_int_equal(json_integer_value(json_object_get(a, "count")), 3);
	json_t *first = json_array_get(json_object_get(a, "events"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "event")), "auth-failed");
	assert_string_equal(json_string_value(json_object_get(first, "reason")), "wrong-credentials");
	json_decref(a);
	a = ask("{\"cmd\":\"history\",\"types\":[\"auth-failed\",\"locked-out\"]}");
	assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
	json_decref(a);
	a = ask("{\"cmd\":\"history\",\"ip\":\"192.168.2.0/24\"}");
	assert_int_equal(json_integer_value(json_object_get(a, "count")), 2);
	json_decref(a);
	a = ask("{\"cmd\":\"history\",\"types\":[\"force-unregistered\"]}");
	assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
	json_decref(a);
	a = ask("{\"cmd\":\"history\",\"from\":%lld,\"to\":%lld}", (long long)(now - 45),
		(long long)(now - 25));
	assert_int_equal(json_integer_value(json_object_get(a, "count")), 2);
	json_decref(a);
	a = ask("{\"cmd\":\"history\",\"limit\":1}");
	assert_int_equal(json_integer_value(json_object_get(a, "count")), 1);
	json_decref(a);
	a = ask("{\"cmd\":\"history\",\"types\":[\"bogus\"]}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "types"));
	json_decref(a);
}

static void test_accounts_add_update_remove_with_ha1_only(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"account_add\",\"username\":\"1009\",\"password\":\"s3cret\","
			"\"account\":\"acme\"}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "dataplane")), "not reloaded"));
	json_decref(a);
	a = ask("{\"cmd\":\"account_add\",\"username\":\"1009\",\"password\":\"x\"}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "exists"));
	json_decref(a);
	a = ask("{\"cmd\":\"account_update\",\"username\":\"1009\",\"auth_mode\":\"ip+digest\","
		"\"cidrs\":[\"198.18.0.0/24\"],\"max_bindings\":2}");
	json_t *acc = json_object_get(a, "account");
	assert_string_equal(json_string_value(json_object_get(acc, "auth_mode")), "ip+digest");
	assert_string_equal(json_string_value(json_object_get(acc, "account")), "acme");
	assert_int_equal(json_integer_value(json_object_get(acc, "max_bindings")), 2);
	assert_true(json_is_true(json_object_get(acc, "has_ha1")));   /* kept */
	json_decref(a);
	struct store_account sa;
	assert_int_equal(store_account_get(ctl.config, "1009", &sa), 0);
	assert_int_equal(strlen(sa.ha1_md5), 32);
	assert_null(memmem(&sa, sizeof(sa), "s3cret", 6));
	a = ask("{\"cmd\":\"accounts_import\",\"csv\":\"username,secret\\n1010,pw\\n1011,pw\\n\"}");
	assert_int_equal(json_integer_value(json_object_get(a, "imported")), 2);
	json_decref(a);
	a = ask("{\"cmd\":\"accounts_import\",\"csv\":\"1012,pw,acme,bogus-mode\\n\"}");
	assert_true(json_is_false(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "auth_mode"));
	json_decref(a);
	a = ask("{\"cmd\":\"accounts_list\",\"prefix\":\"101\"}");
	assert_int_equal(json_integer_value(json_object_get(a, "total")), 2);
	json_decref(a);
	a = ask("{\"cmd\":\"account_remove\",\"username\":\"1010\"}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	json_decref(a);
	a = ask("{\"cmd\":\"account_remove\",\"username\":\"1010\"}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "does not exist"));
	json_decref(a);
	a = ask("{\"cmd\":\"account_add\",\"username\":\"x\",\"auth_mode\":\"ip\"}");
	assert_true(json_is_false(json_object_get(a, "ok")));   /* ip mode without CIDRs */
	json_decref(a);
}

static void test_policy_set_is_stored_and_recorded_in_history(void **state)
{
	(void)state;
	json_t *a = ask("{\"cmd\":\"policy_set\",\"set\":{\"register_replace\":\"off\",\"max_bindings\":1}}");
	assert_true(json_is_true(json_object_get(a, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(a, "applied")), "next dataplane start"));
	json_decref(a);
	a = ask("{\"cmd\":\"policy_set\",\"set\":{\"max_bindings\":0}}");
	assert_non_null(strstr(json_string_value(json_object_get(a, "error")), "max_bindings"));
	json_decref(a);
	/* a new process sees the stored policy */
	struct control_config cc = ctl.cfg;
	char err[256];
	control_close(&ctl);
	assert_int_equal(control_open(&ctl, &cc, err, sizeof(err)), 0);
	a = ask("{\"cmd\":\"policy_get\"}");
	json_t *p = json_object_get(a, "policy");
	assert_string_equal(json_string_value(json_object_get(p, "register_replace")), "off");
	assert_int_equal(json_integer_value(json_object_get(p, "max_bindings")), 1);
	json_decref(a);
	/* admin records: found by type and time, with who asked, exact at */
	a = ask("{\"cmd\":\"history\",\"types\":[\"admin\"],\"from\":%lld}", (long long)now);
	json_t *ev = json_object_get(a, "events");
	assert_true(json_array_size(ev) >= 5);
	json_t *last = json_array_get(ev, 0);
	assert_string_equal(json_string_value(json_object_get(last, "action")), "policy-set");
	assert_non_null(strstr(json_string_value(json_object_get(last, "who")), "uid=0"));
	assert_true(json_integer_value(json_object_get(last, "at")) >= now);
	json_decref(a);
}

static void test_bad_requests_get_errors(void **state)
{
	static const char *bad[] = {
		"{", "[]", "{\"cmd\":null}", "{\"cmd\":\"LIST\"}", "{\"cmd\":\"list\",\"limit\":{}}",
		"{\"cmd\":\"accounts_import\"}", "{\"cmd\":\"policy_set\"}",
		"{\"cmd\":\"history\",\"from\":\"yesterday\"}",
		"{\"cmd\":\"account_update\",\"username\":\"nobody\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *a = ask("%s", bad[i]);
		assert_true(json_is_false(json_object_get(a, "ok")));
		assert_true(json_string_length(json_object_get(a, "error")) > 0);
		json_decref(a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_without_filter_is_every_live_binding_in_aor_order),
		cmocka_unit_test(test_list_each_filter_alone),
		cmocka_unit_test(test_list_by_number_exact_and_prefix),
		cmocka_unit_test(test_list_filters_combine),
		cmocka_unit_test(test_unregistered_comes_from_history_with_its_reason),
		cmocka_unit_test(test_list_sorts_by_any_column_and_pages),
		cmocka_unit_test(test_list_row_has_every_column),
		cmocka_unit_test(test_export_csv_streams_rfc4180_rows),
		cmocka_unit_test(test_export_json_lines_with_a_filter),
		cmocka_unit_test(test_export_refuses_what_it_cannot_stream),
		cmocka_unit_test(test_show_lists_every_field_and_recent_history),
		cmocka_unit_test(test_kick_without_dataplane_says_so_and_records_nothing),
		cmocka_unit_test(test_history_by_aor_ip_type_and_time),
		cmocka_unit_test(test_accounts_add_update_remove_with_ha1_only),
		cmocka_unit_test(test_policy_set_is_stored_and_recorded_in_history),
		cmocka_unit_test(test_bad_requests_get_errors),
	};

	return cmocka_run_group_tests_name("control-queries", tests, setup, teardown);
}
