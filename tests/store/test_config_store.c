/*
 * test_config_store.c - accounts in the `config` environment (skeleton).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>

#include "config_store.h"
#include "store_test_util.h"

static struct store_account_record
account(const char *name)
{
	struct store_account_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.version = STORE_ACCOUNT_RECORD_VERSION;
	rec.auth_mode = STORE_AUTH_DIGEST;
	snprintf(rec.account, sizeof(rec.account), "%s", name);
	memset(rec.ha1_md5, 0xab, sizeof(rec.ha1_md5));
	return rec;
}

static int
count_cb(void *ctx, const char *username, size_t len, const struct store_account_record *rec)
{
	(void)username;
	(void)len;
	(void)rec;
	(*(int *)ctx)++;
	return 0;
}

static void
test_account_put_get_delete_round_trip(void **state)
{
	char *dir = make_state_dir("config");
	struct config_store *cs;
	struct store_account_record rec = account("acme"), got;
	int n = 0;

	(void)state;
	assert_int_equal(config_store_open(dir, false, &cs), 0);
	assert_int_equal(config_account_put(cs, "1001", 4, &rec), 0);
	assert_int_equal(config_account_put(cs, "1002", 4, &rec), 0);
	assert_int_equal(config_account_get(cs, "1001", 4, &got), 0);
	assert_string_equal(got.account, "acme");
	assert_memory_equal(got.ha1_md5, rec.ha1_md5, sizeof(rec.ha1_md5));
	assert_int_equal(config_account_foreach(cs, count_cb, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(config_account_delete(cs, "1001", 4), 0);
	assert_int_equal(config_account_get(cs, "1001", 4, &got), MDB_NOTFOUND);
	config_store_close(cs);
	/* a reader (the dataplane) opens it read-only */
	assert_int_equal(config_store_open(dir, true, &cs), 0);
	assert_int_equal(config_account_get(cs, "1002", 4, &got), 0);
	assert_int_equal(config_account_put(cs, "1003", 4, &rec), -EROFS);
	config_store_close(cs);
	rm_rf(dir);
}

static void
test_account_with_another_record_version_is_refused(void **state)
{
	char *dir = make_state_dir("config");
	struct config_store *cs;
	struct store_account_record rec = account("acme");

	(void)state;
	assert_int_equal(config_store_open(dir, false, &cs), 0);
	rec.version = STORE_ACCOUNT_RECORD_VERSION + 1;
	assert_int_equal(config_account_put(cs, "1001", 4, &rec), -EINVAL);
	config_store_close(cs);
	rm_rf(dir);
}

static void
test_account_policy_overrides_only_what_it_sets(void **state)
{
	struct store_account_record rec = account("acme");
	struct store_policy defaults, p;

	(void)state;
	store_policy_defaults(&defaults);
	rec.max_bindings = 1;
	rec.flags = STORE_ACCOUNT_REPLACE_SET;      /* replace explicitly off */
	store_account_policy(&rec, &defaults, &p);
	assert_int_equal(p.max_bindings, 1);
	assert_false(p.register_replace);
	assert_int_equal(p.min_expires_s, defaults.min_expires_s);
	assert_int_equal(p.max_expires_s, defaults.max_expires_s);
	rec.flags = 0;
	store_account_policy(&rec, &defaults, &p);
	assert_true(p.register_replace == defaults.register_replace);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_account_put_get_delete_round_trip),
		cmocka_unit_test(test_account_with_another_record_version_is_refused),
		cmocka_unit_test(test_account_policy_overrides_only_what_it_sets),
	};

	return cmocka_run_group_tests_name("store-config", tests, NULL, NULL);
}
