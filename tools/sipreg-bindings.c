/* sipreg-bindings — print the bindings the dataplane has checkpointed to
 * LMDB, one per line (tab-separated), from a read-only snapshot.
 *
 * For tests and for operators before sipreg-control runs; `sipregctl list`
 * shows the same data with filters.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lmdb_records.h"
#include "recovery.h"

static void print_string(const struct store_binding_data *b, enum store_string s)
{
	size_t len;
	const char *p = store_binding_string(b, s, &len);

	/* Tabs and newlines cannot occur in the SIP fields stored; print
	 * whatever is there without interpretation. */
	printf("%s%.*s", s == STORE_STR_AOR ? "" : "\t", (int)len, p);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = "/var/lib/sipreg";
	char path[4096];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
		switch (opt) {
		case 's': state_dir = optarg; break;
		case 'h':
			printf("usage: sipreg-bindings [--state-dir DIR]\n"
			       "columns: aor contact received expires_in_s expires_at registered_at "
			       "refreshed_at cseq nat call_id user_agent account path instance\n"
			       "exit status: 0 ok, 1 error\n");
			return 0;
		default: return 2;
		}
	}
	snprintf(path, sizeof(path), "%s/bindings", state_dir);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_mapsize(env, 8ULL << 30)) != 0 ||
	    (rc = mdb_env_open(env, path, MDB_RDONLY, 0)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		fprintf(stderr, "sipreg-bindings: %s: %s\n", path, mdb_strerror(rc));
		return 1;
	}
	int64_t now = (int64_t)time(NULL);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct store_binding_data b;
		char ip[INET6_ADDRSTRLEN];

		if (store_binding_value_decode(v.mv_data, v.mv_size, &b) != 0) {
			fprintf(stderr, "sipreg-bindings: skipping a malformed record\n");
			continue;
		}
		inet_ntop(b.source.family, b.source.addr, ip, sizeof(ip));
		print_string(&b, STORE_STR_AOR);
		print_string(&b, STORE_STR_CONTACT);
		printf(b.source.family == AF_INET6 ? "\t[%s]:%u" : "\t%s:%u", ip, b.source.port);
		printf("\t%lld\t%lld\t%lld\t%lld\t%u\t%s", (long long)(b.expires_at_s - now),
		       (long long)b.expires_at_s, (long long)b.registered_at_s,
		       (long long)b.refreshed_at_s, b.cseq, (b.flags & STORE_BINDING_NAT) ? "nat" : "-");
		print_string(&b, STORE_STR_CALL_ID);
		print_string(&b, STORE_STR_USER_AGENT);
		print_string(&b, STORE_STR_ACCOUNT);
		print_string(&b, STORE_STR_PATH);
		print_string(&b, STORE_STR_INSTANCE);
		printf("\n");
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc == MDB_NOTFOUND ? 0 : 1;
}
