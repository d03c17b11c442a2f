/*
 * history.c - history reads and admin records (history.h).
 */
#include "history.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

int history_admin_write(MDB_env *env, MDB_dbi dbi, int64_t at_s, const json_t *action)
{
	char *json = json_dumps(action, JSON_COMPACT);
	struct control_admin_record hdr = {
		.version = STORE_RECORD_VERSION, .type = CONTROL_HISTORY_ADMIN, .at_s = at_s,
	};
	uint8_t key[STORE_HISTORY_KEY_BYTES];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t seq = CONTROL_HISTORY_SEQ_BIT | 1;
	int rc;

	if (!json)
		return ENOMEM;
	size_t jn = strlen(json);
	char *val = malloc(sizeof(hdr) + jn);
	if (!val) {
		free(json);
		return ENOMEM;
	}
	hdr.json_len = (uint32_t)jn;
	memcpy(val, &hdr, sizeof(hdr));
	memcpy(val + sizeof(hdr), json, jn);
	free(json);
	int64_t key_s = at_s - CONTROL_HISTORY_KEY_LAG_S;

	for (int attempt = 0; attempt < 3; attempt++) {
		rc = mdb_txn_begin(env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			mdb_env_set_mapsize(env, 0);
			continue;
		}
		if (rc != 0)
			break;
		/* continue after our last seq in that second, if any */
		store_history_key_build(key_s, UINT64_MAX, key);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		if (mdb_cursor_open(txn, dbi, &cur) == 0) {
			int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);

			r = r == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
				   : mdb_cursor_get(cur, &k, &v, MDB_LAST);
			if (r == 0 && k.mv_size == STORE_HISTORY_KEY_BYTES &&
			    store_history_key_time(k.mv_data) == key_s &&
			    (store_history_key_seq(k.mv_data) & CONTROL_HISTORY_SEQ_BIT) &&
			    store_history_key_seq(k.mv_data) != UINT64_MAX)
				seq = store_history_key_seq(k.mv_data) + 1;
			mdb_cursor_close(cur);
		}
		for (;;) {
			store_history_key_build(key_s, seq, key);
			k.mv_size = sizeof(key);
			k.mv_data = key;
			v.mv_size = sizeof(hdr) + jn;
			v.mv_data = val;
			rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
			if (rc != MDB_KEYEXIST)
				break;
			seq++;
		}
		if (rc != 0) {
			mdb_txn_abort(txn);
			if (rc == MDB_MAP_FULL) {
				MDB_envinfo info;

				mdb_env_info(env, &info);
				mdb_env_set_mapsize(env, info.me_mapsize * 2);
				continue;
			}
			break;
		}
		rc = mdb_txn_commit(txn);
		break;
	}
	free(val);
	return rc;
}

static int parse_time_field(const json_t *req, const char *name, int64_t *out, char *err,
			    size_t err_len)
{
	const json_t *v = json_object_get(req, name);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(err, err_len, "field '%s' must be a Unix time in seconds (integer >= 0)",
			 name);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int type_add(const char *s, unsigned *mask)
{
	if (strcmp(s, "admin") == 0) {
		*mask |= 1u;
		return 0;
	}
	for (unsigned t = 1; t < STORE_EVENT_TYPE_COUNT; t++)
		if (strcmp(s, store_event_type_name((enum store_event_type)t)) == 0) {
			*mask |= 1u << t;
			return 0;
		}
	return -1;
}

int history_query_from_json(const json_t *req, struct history_query *h, char *err,
			    size_t err_len)
{
	const json_t *v;

	memset(h, 0, sizeof(*h));
	h->limit = HISTORY_DEFAULT_LIMIT;
	v = json_object_get(req, "aor");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || json_string_length(v) >= sizeof(h->aor)) {
			snprintf(err, err_len, "field 'aor' must be a string shorter than %zu bytes",
				 sizeof(h->aor));
			return -1;
		}
		memcpy(h->aor, json_string_value(v), json_string_length(v) + 1);
	}
	v = json_object_get(req, "ip");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || query_ip_filter_parse(json_string_value(v), &h->ip) != 0) {
			snprintf(err, err_len, "field 'ip' must be an address, a CIDR or a wildcard "
				 "like 192.168.1.x");
			return -1;
		}
		h->has_ip = 1;
	}
	if (parse_time_field(req, "from", &h->from_s, err, err_len) ||
	    parse_time_field(req, "to", &h->to_s, err, err_len))
		return -1;
	v = json_object_get(req, "limit");
	if (v && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > HISTORY_MAX_LIMIT) {
			snprintf(err, err_len, "field 'limit' must be an integer from 1 to %d",
				 HISTORY_MAX_LIMIT);
			return -1;
		}
		h->limit = (uint64_t)json_integer_value(v);
	}
	v = json_object_get(req, "types");
	if (v && !json_is_null(v)) {
		size_t i;
		const json_t *e;
		bool ok = json_is_array(v);

		if (ok)
			json_array_foreach(v, i, e) {
				if (!json_is_string(e) || type_add(json_string_value(e), &h->type_mask) != 0)
					ok = false;
			}
		if (!ok) {
			snprintf(err, err_len, "field 'types' must be an array of event names: "
				 "registered, refreshed, unregistered, expired, kicked, "
				 "force-unregistered, unreachable, auth-failed, locked-out, admin");
			return -1;
		}
	}
	return 0;
}

static void append_event(struct outbuf *out, const struct store_event *ev)
{
	size_t n;
	const char *p;
	char ip[INET6_ADDRSTRLEN] = "";

	outbuf_puts(out, "{\"at\":");
	outbuf_i64(out, ev->at_s);
	outbuf_puts(out, ",\"event\":\"");
	outbuf_puts(out, store_event_type_name((enum store_event_type)ev->type));
	outbuf_puts(out, "\",\"aor\":");
	p = store_binding_string(&ev->binding, STORE_STR_AOR, &n);
	outbuf_json_string(out, p, n);
	outbuf_puts(out, ",\"contact\":");
	p = store_binding_string(&ev->binding, STORE_STR_CONTACT, &n);
	outbuf_json_string(out, p, n);
	if (ev->binding.source.family == AF_INET || ev->binding.source.family == AF_INET6)
		inet_ntop(ev->binding.source.family, ev->binding.source.addr, ip, sizeof(ip));
	outbuf_printf(out, ev->binding.source.family == AF_INET6 ? ",\"received\":\"[%s]:%u\""
								  : ",\"received\":\"%s:%u\"",
		      ip, ev->binding.source.port);
	outbuf_puts(out, ",\"user_agent\":");
	p = store_binding_string(&ev->binding, STORE_STR_USER_AGENT, &n);
	outbuf_json_string(out, p, n);
	outbuf_puts(out, ",\"account\":");
	p = store_binding_string(&ev->binding, STORE_STR_ACCOUNT, &n);
	outbuf_json_string(out, p, n);
	if (!store_event_touches_binding((enum store_event_type)ev->type)) {
		outbuf_puts(out, ",\"reason\":\"");
		outbuf_puts(out, store_auth_failure_name((enum store_auth_failure)ev->reason));
		outbuf_append(out, "\"", 1);
	}
	outbuf_printf(out, ",\"expires_s\":%u,\"worker\":%u}", ev->binding.expires_s, ev->worker);
}

/* An admin record matching the query?  Appends it and returns true. */
static bool append_admin(struct outbuf *out, const MDB_val *v, const struct history_query *h)
{
	struct control_admin_record hdr;
	json_t *obj, *aor;
	json_error_t jerr;

	if (v->mv_size < sizeof(hdr))
		return false;
	memcpy(&hdr, v->mv_data, sizeof(hdr));
	if (hdr.json_len != v->mv_size - sizeof(hdr) || h->has_ip ||
	    (h->from_s && hdr.at_s < h->from_s) || (h->to_s && hdr.at_s > h->to_s))
		return false;
	obj = json_loadb((const char *)v->mv_data + sizeof(hdr), hdr.json_len, 0, &jerr);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return false;
	}
	aor = json_object_get(obj, "aor");
	if (h->aor[0] && (!json_is_string(aor) || strcmp(json_string_value(aor), h->aor) != 0)) {
		json_decref(obj);
		return false;
	}
	json_object_set_new(obj, "at", json_integer(hdr.at_s));
	json_object_set_new(obj, "event", json_string("admin"));
	char *s = json_dumps(obj, JSON_COMPACT);
	if (s)
		outbuf_puts(out, s);
	free(s);
	json_decref(obj);
	return s != NULL;
}

int history_list(MDB_txn *txn, MDB_dbi dbi, const struct history_query *h, struct outbuf *out,
		 uint64_t *n_out)
{
	uint8_t key[STORE_HISTORY_KEY_BYTES];
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;
	int rc;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc != 0)
		return rc;
	outbuf_puts(out, "\"events\":[");
	/* admin keys are dated CONTROL_HISTORY_KEY_LAG_S early (history.h) */
	if (h->to_s > 0 && h->to_s < INT64_MAX - CONTROL_HISTORY_KEY_LAG_S) {
		store_history_key_build(h->to_s + 1, 0, key);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		rc = rc == 0 ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
			     : mdb_cursor_get(cur, &k, &v, MDB_LAST);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	}
	for (; rc == 0 && n < h->limit; rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		struct store_event ev;
		size_t start = out->len;

		if (k.mv_size != STORE_HISTORY_KEY_BYTES)
			continue;
		int64_t key_s = store_history_key_time(k.mv_data);

		if (h->from_s && key_s < h->from_s - CONTROL_HISTORY_KEY_LAG_S)
			break;
		if (v.mv_size >= 3 && ((const uint8_t *)v.mv_data)[2] == CONTROL_HISTORY_ADMIN) {
			if (h->type_mask && !(h->type_mask & 1u))
				continue;
			if (n)
				outbuf_append(out, ",", 1);
			if (append_admin(out, &v, h))
				n++;
			else
				out->len = start;
			continue;
		}
		if (v.mv_size < offsetof(struct store_event, binding.str) || v.mv_size > sizeof(ev))
			continue;
		memset(&ev, 0, sizeof(ev));
		memcpy(&ev, v.mv_data, v.mv_size);
		if (ev.version != STORE_RECORD_VERSION || ev.type == 0 ||
		    ev.type >= STORE_EVENT_TYPE_COUNT || store_event_used_size(&ev) != v.mv_size)
			continue;
		if ((h->type_mask && !(h->type_mask & (1u << ev.type))) ||
		    (h->from_s && key_s < h->from_s) || (h->to_s && key_s > h->to_s))
			continue;
		if (h->aor[0]) {
			size_t an;
			const char *a = store_binding_string(&ev.binding, STORE_STR_AOR, &an);

			if (an != strlen(h->aor) || memcmp(a, h->aor, an) != 0)
				continue;
		}
		if (h->has_ip && !store_cidr_contains(&h->ip, ev.binding.source.family,
						      ev.binding.source.addr, 0, false))
			continue;
		if (n)
			outbuf_append(out, ",", 1);
		append_event(out, &ev);
		n++;
	}
	mdb_cursor_close(cur);
	outbuf_append(out, "]", 1);
	if (n_out)
		*n_out = n;
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}
