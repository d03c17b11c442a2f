/* sipreg-accounts — manage accounts in the `config` LMDB environment
 * directly (before sipreg-control exists, and for bulk import).
 *
 * The dataplane picks changes up on SIGHUP (`kill -HUP <pid>`), or at its
 * next start.
 */
#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "account_import.h"
#include "account_store.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sipreg-accounts [--state-dir DIR] [--realm REALM] COMMAND ...\n"
		"  import FILE|-          import CSV rows: username,secret,account,auth_mode,cidrs,\n"
		"                         max_bindings,min_expires,max_expires (secret: password\n"
		"                         or ha1:<md5 hex>:<sha256 hex>)\n"
		"  add USERNAME SECRET [ACCOUNT [MODE [CIDRS [MAX_BINDINGS [MIN [MAX]]]]]]\n"
		"  delete USERNAME\n"
		"  show USERNAME\n"
		"  list                   one line per account: username account mode cidrs\n"
		"  count\n"
		"defaults: --state-dir /var/lib/sipreg --realm sipreg.test (the SIP domain)\n"
		"exit status: 0 ok, 1 error (message on stderr), 2 usage, 3 no such account\n");
}

static int print_account(const struct store_account *a, void *arg)
{
	char cidr[64];

	(void)arg;
	printf("%s\t%s\t%s\t", a->username, a->account, store_auth_mode_name(a->auth_mode));
	for (unsigned i = 0; i < a->n_cidrs; i++)
		if (store_cidr_format(&a->cidrs[i], cidr, sizeof(cidr)) == 0)
			printf("%s%s", i ? " " : "", cidr);
	printf("\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "realm", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = "/var/lib/sipreg", *realm = "sipreg.test";
	struct store_config *c;
	char err[512];
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+s:r:h", options, NULL)) != -1) {
		switch (opt) {
		case 's': state_dir = optarg; break;
		case 'r': realm = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int n_args = argc - optind - 1;
	bool writes = strcmp(cmd, "import") == 0 || strcmp(cmd, "add") == 0 || strcmp(cmd, "delete") == 0;

	rc = store_config_open(state_dir, !writes, &c);
	if (rc != 0) {
		fprintf(stderr, "sipreg-accounts: %s/config: %s\n", state_dir,
			rc < 0 ? strerror(-rc) : mdb_strerror(rc));
		return 1;
	}
	int status = 0;
	if (strcmp(cmd, "import") == 0 && n_args == 1) {
		struct store_import_stats st;
		FILE *in = strcmp(args[0], "-") == 0 ? stdin : fopen(args[0], "r");
		if (!in) {
			fprintf(stderr, "sipreg-accounts: %s: %s\n", args[0], strerror(errno));
			status = 1;
		} else {
			if (store_account_import_csv(c, in, realm, &st, err, sizeof(err)) != 0) {
				fprintf(stderr, "sipreg-accounts: %s: %s (%zu accounts imported before it)\n",
					args[0], err, st.imported);
				status = 1;
			} else {
				printf("imported %zu accounts\n", st.imported);
			}
			if (in != stdin)
				fclose(in);
		}
	} else if (strcmp(cmd, "add") == 0 && n_args >= 2 && n_args <= 8) {
		struct store_account a;
		if (store_account_from_fields((const char *const *)args, (size_t)n_args, realm, &a, err,
					      sizeof(err)) != 0) {
			fprintf(stderr, "sipreg-accounts: %s\n", err);
			status = 1;
		} else if ((rc = store_account_put(c, &a)) != 0) {
			fprintf(stderr, "sipreg-accounts: write: %s\n", mdb_strerror(rc));
			status = 1;
		}
	} else if (strcmp(cmd, "delete") == 0 && n_args == 1) {
		rc = store_account_delete(c, args[0]);
		if (rc == MDB_NOTFOUND) {
			fprintf(stderr, "sipreg-accounts: no account '%s'\n", args[0]);
			status = 3;
		} else if (rc != 0) {
			fprintf(stderr, "sipreg-accounts: delete: %s\n", mdb_strerror(rc));
			status = 1;
		}
	} else if (strcmp(cmd, "show") == 0 && n_args == 1) {
		struct store_account a;
		rc = store_account_get(c, args[0], &a);
		if (rc == 0) {
			print_account(&a, NULL);
		} else {
			fprintf(stderr, "sipreg-accounts: %s: %s\n", args[0],
				rc == MDB_NOTFOUND ? "no such account" : mdb_strerror(rc));
			status = rc == MDB_NOTFOUND ? 3 : 1;
		}
	} else if (strcmp(cmd, "list") == 0 && n_args == 0) {
		uint64_t skipped = 0;
		if ((rc = store_account_foreach(c, print_account, NULL, &skipped)) != 0) {
			fprintf(stderr, "sipreg-accounts: list: %s\n", mdb_strerror(rc));
			status = 1;
		}
	} else if (strcmp(cmd, "count") == 0 && n_args == 0) {
		uint64_t n = 0;
		if ((rc = store_account_count(c, &n)) != 0) {
			fprintf(stderr, "sipreg-accounts: count: %s\n", mdb_strerror(rc));
			status = 1;
		} else {
			printf("%llu\n", (unsigned long long)n);
		}
	} else {
		usage(stderr);
		status = 2;
	}
	store_config_close(c);
	return status;
}
