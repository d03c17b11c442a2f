/* account_store.c - accounts in the `config` LMDB environment. */
#include "account_store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_MAP_BYTES (4ULL << 30)   /* sparse; 1 M accounts use ~600 MB */
#define CONFIG_MAX_DBS 8

struct store_config {
	MDB_env *env;
	MDB_dbi accounts;
	MDB_dbi policy;
	bool have_policy;         /* a read-only open of an env without it */
};

static const char *const mode_names[STORE_AUTH_MODE_COUNT] = {
	[STORE_AUTH_DIGEST] = "digest",
	[STORE_AUTH_IP] = "ip",
	[STORE_AUTH_IP_PORT] = "ip+port",
	[STORE_AUTH_IP_DIGEST] = "ip+digest",
};

const char *store_auth_mode_name(enum store_auth_mode mode)
{
	return (unsigned)mode < STORE_AUTH_MODE_COUNT ? mode_names[mode] : NULL;
}

int store_auth_mode_parse(const char *s, enum store_auth_mode *out)
{
	for (unsigned i = 0; i < STORE_AUTH_MODE_COUNT; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum store_auth_mode)i;
			return 0;
		}
	return -1;
}

int store_config_open(const char *state_dir, bool read_only, struct store_config **out)
{
	char path[4096];
	struct store_config *c;
	MDB_txn *txn;
	int rc;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/config", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!read_only) {
		if (mkdir(state_dir, 0750) != 0 && errno != EEXIST)
			return -errno;
		if (mkdir(path, 0750) != 0 && errno != EEXIST)
			return -errno;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if ((rc = mdb_env_create(&c->env)) != 0)
		goto fail_free;
	mdb_env_set_maxdbs(c->env, CONFIG_MAX_DBS);
	mdb_env_set_mapsize(c->env, CONFIG_MAP_BYTES);
	rc = mdb_env_open(c->env, path, read_only ? MDB_RDONLY : 0, 0640);
	if (rc != 0)
		goto fail_env;
	rc = mdb_txn_begin(c->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
	if (rc != 0)
		goto fail_env;
	rc = mdb_dbi_open(txn, "accounts", read_only ? 0 : MDB_CREATE, &c->accounts);
	if (rc != 0) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	rc = mdb_dbi_open(txn, "policy", read_only ? 0 : MDB_CREATE, &c->policy);
	if (rc != 0 && !(read_only && rc == MDB_NOTFOUND)) {
		mdb_txn_abort(txn);
		goto fail_env;
	}
	c->have_policy = rc == 0;
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail_env;
	*out = c;
	return 0;
fail_env:
	mdb_env_close(c->env);
fail_free:
	free(c);
	return rc;
}

void store_config_close(struct store_config *c)
{
	if (!c)
		return;
	mdb_env_close(c->env);
	free(c);
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static bool is_lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

const char *store_account_validate(const struct store_account *a)
{
	if (a->version != STORE_ACCOUNT_VERSION)
		return "record version";
	if (!terminated(a->username, sizeof(a->username)) || a->username[0] == '\0')
		return "username is empty or too long";
	for (const char *p = a->username; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '@' || *p == ':' || *p == '"' || *p == 0x7f)
			return "username has a space, control character, '@', ':' or '\"'";
	if (!terminated(a->account, sizeof(a->account)))
		return "account name too long";
	if (!terminated(a->realm, sizeof(a->realm)))
		return "realm too long";
	if (a->auth_mode >= STORE_AUTH_MODE_COUNT)
		return "unknown auth mode";
	bool digest = a->auth_mode == STORE_AUTH_DIGEST || a->auth_mode == STORE_AUTH_IP_DIGEST;
	if (digest && (!is_lower_hex(a->ha1_md5, 32) || !is_lower_hex(a->ha1_sha256, 64)))
		return "digest account needs HA1 for MD5 (32 hex) and SHA-256 (64 hex)";
	if (a->n_cidrs > STORE_ACCOUNT_MAX_CIDRS)
		return "too many CIDRs";
	if (a->auth_mode != STORE_AUTH_DIGEST && a->n_cidrs == 0)
		return "IP-authenticated account needs at least one CIDR";
	for (unsigned i = 0; i < a->n_cidrs; i++) {
		const struct store_cidr *c = &a->cidrs[i];
		if (c->family != AF_INET && c->family != AF_INET6)
			return "CIDR family";
		if (c->prefix_len > (c->family == AF_INET ? 32 : 128))
			return "CIDR prefix length";
	}
	if (a->min_expires_s && a->max_expires_s && a->min_expires_s > a->max_expires_s)
		return "min_expires above max_expires";
	return NULL;
}

static int put_in_txn(MDB_txn *txn, MDB_dbi dbi, const struct store_account *a)
{
	MDB_val key = { strlen(a->username), (void *)a->username };
	MDB_val val = { sizeof(*a), (void *)a };

	if (store_account_validate(a))
		return EINVAL;
	return mdb_put(txn, dbi, &key, &val, 0);
}

int store_account_put_many(struct store_config *c, const struct store_account *a,
			   size_t n, size_t *failed_index)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(c->env, NULL, 0, &txn);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = put_in_txn(txn, c->accounts, &a[i]);
		if (rc != 0) {
			if (failed_index)
				*failed_index = i;
			mdb_txn_abort(txn);
			return rc;
		}
	}
	return mdb_txn_commit(txn);
}

int store_account_put(struct store_config *c, const struct store_account *a)
{
	return store_account_put_many(c, a, 1, NULL);
}

int store_account_delete(struct store_config *c, const char *username)
{
	MDB_txn *txn;
	MDB_val key = { strlen(username), (void *)username };
	int rc = mdb_txn_begin(c->env, NULL, 0, &txn);

	if (rc != 0)
		return rc;
	rc = mdb_del(txn, c->accounts, &key, NULL);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

static int decode(const MDB_val *val, struct store_account *out)
{
	if (val->mv_size != sizeof(*out))
		return EPROTO;
	memcpy(out, val->mv_data, sizeof(*out));
	if (out->version != STORE_ACCOUNT_VERSION)
		return EPROTO;
	return 0;
}

int store_account_get(struct store_config *c, const char *username, struct store_account *out)
{
	MDB_txn *txn;
	MDB_val key = { strlen(username), (void *)username }, val;
	int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return rc;
	rc = mdb_get(txn, c->accounts, &key, &val);
	if (rc == 0)
		rc = decode(&val, out);
	mdb_txn_abort(txn);
	return rc;
}

int store_account_foreach(struct store_config *c,
			  int (*fn)(const struct store_account *a, void *arg), void *arg,
			  uint64_t *skipped)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val key, val;
	struct store_account a;
	int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);

	if (skipped)
		*skipped = 0;
	if (rc != 0)
		return rc;
	rc = mdb_cursor_open(txn, c->accounts, &cur);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (decode(&val, &a) != 0) {
			if (skipped)
				(*skipped)++;
			continue;
		}
		int stop = fn(&a, arg);
		if (stop) {
			rc = stop;
			break;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int store_policy_get(struct store_config *c, char *buf, size_t cap)
{
	MDB_txn *txn;
	MDB_val key = { 6, (void *)"policy" }, val;
	int rc;

	if (!c->have_policy)
		return MDB_NOTFOUND;
	rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_get(txn, c->policy, &key, &val);
	if (rc == 0) {
		if (val.mv_size >= cap) {
			rc = ENOSPC;
		} else {
			memcpy(buf, val.mv_data, val.mv_size);
			buf[val.mv_size] = '\0';
		}
	}
	mdb_txn_abort(txn);
	return rc;
}

int store_policy_put(struct store_config *c, const char *json, size_t len)
{
	MDB_txn *txn;
	MDB_val key = { 6, (void *)"policy" }, val = { len, (void *)json };
	int rc;

	if (len == 0)
		return EINVAL;
	if (!c->have_policy)
		return MDB_NOTFOUND;
	rc = mdb_txn_begin(c->env, NULL, 0, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_put(txn, c->policy, &key, &val, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return mdb_txn_commit(txn);
}

int store_account_count(struct store_config *c, uint64_t *n)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return rc;
	rc = mdb_stat(txn, c->accounts, &st);
	if (rc == 0)
		*n = st.ms_entries;
	mdb_txn_abort(txn);
	return rc;
}

int store_cidr_parse(const char *s, struct store_cidr *out)
{
	char text[INET6_ADDRSTRLEN + 16];
	char *addr = text, *slash, *port_sep = NULL;
	size_t n = strlen(s);

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n + 1);
	if (text[0] == '[') {                     /* [v6]:port */
		char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -1;
		*close = '\0';
		addr = text + 1;
		port_sep = close + 1;
	} else if (strchr(text, '.') && strchr(text, ':')) { /* v4:port */
		port_sep = strchr(text, ':');
	}
	if (port_sep) {
		char *end;
		unsigned long p;
		*port_sep = '\0';
		p = strtoul(port_sep + 1, &end, 10);
		if (*end || end == port_sep + 1 || p == 0 || p > 65535)
			return -1;
		out->port = (uint16_t)p;
	}
	slash = strchr(addr, '/');
	if (slash) {
		char *end;
		unsigned long len;
		if (port_sep)
			return -1;
		*slash = '\0';
		len = strtoul(slash + 1, &end, 10);
		if (*end || end == slash + 1 || len > 128)
			return -1;
		out->prefix_len = (uint8_t)len;
	}
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		if (!slash)
			out->prefix_len = 32;
		return out->prefix_len <= 32 ? 0 : -1;
	}
	if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		if (!slash)
			out->prefix_len = 128;
		return 0;
	}
	return -1;
}

int store_cidr_format(const struct store_cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned full = c->family == AF_INET ? 32 : 128;
	int n;

	if (!inet_ntop(c->family, c->addr, addr, sizeof(addr)))
		return -1;
	if (c->port)
		n = snprintf(buf, len, c->family == AF_INET ? "%s:%u" : "[%s]:%u", addr, c->port);
	else if (c->prefix_len == full)
		n = snprintf(buf, len, "%s", addr);
	else
		n = snprintf(buf, len, "%s/%u", addr, c->prefix_len);
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

bool store_cidr_contains(const struct store_cidr *c, uint8_t family, const uint8_t *addr,
			 uint16_t port, bool check_port)
{
	unsigned bits = c->prefix_len, i = 0;

	if (c->family != family)
		return false;
	if (check_port && c->port && c->port != port)
		return false;
	for (; bits >= 8; bits -= 8, i++)
		if (c->addr[i] != addr[i])
			return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));
		if ((c->addr[i] & mask) != (addr[i] & mask))
			return false;
	}
	return true;
}
