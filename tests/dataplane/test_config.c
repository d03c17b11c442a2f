/* Unit tests for dataplane/config.c: defaults, and one clear error naming
 * the key for every kind of bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char path[64];

static int write_config(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/sipreg-config-test-%d.ini", getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	fclose(f);
	return 0;
}

static int load(struct dataplane_config *cfg, const char *text, char *err, size_t len)
{
	config_set_defaults(cfg);
	assert_int_equal(write_config(text), 0);
	int rc = config_load(cfg, path, err, len);
	unlink(path);
	return rc;
}

static void test_defaults_are_a_working_single_worker_setup(void **state)
{
	struct dataplane_config cfg;
	(void)state;
	config_set_defaults(&cfg);
	assert_int_equal(cfg.workers, 1);
	assert_int_equal(cfg.sip_port, 5060);
	assert_int_equal(cfg.mode, DATAPLANE_MODE_REGISTRAR);
	assert_string_equal(cfg.instance, "sipreg");
	assert_string_equal(cfg.state_dir, "/var/lib/sipreg");
	assert_string_equal(cfg.stats_dir, "/dev/shm");
}

static void test_values_override_defaults(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	assert_int_equal(load(&cfg, "[dataplane]\nworkers = 2\nmode = echo\n"
				    "port = 0000:03:00.0\n[sip]\nport = 5080\n", err, sizeof(err)), 0);
	assert_int_equal(cfg.workers, 2);
	assert_int_equal(cfg.mode, DATAPLANE_MODE_ECHO);
	assert_int_equal(cfg.sip_port, 5080);
	assert_string_equal(cfg.port, "0000:03:00.0");
}

static void test_unknown_key_is_an_error_naming_it(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	assert_int_equal(load(&cfg, "[dataplane]\nworkerz = 2\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[dataplane] workerz"));
	assert_non_null(strstr(err, ":2:"));
}

static void test_out_of_range_names_key_and_range(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	assert_int_equal(load(&cfg, "[dataplane]\nworkers = 0\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[dataplane] workers"));
	assert_non_null(strstr(err, "1..64"));
	assert_int_equal(load(&cfg, "[sip]\nport = 70000\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[sip] port"));
}

static void test_non_number_is_rejected(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	assert_int_equal(load(&cfg, "[dataplane]\nworkers = two\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "whole number"));
	assert_int_equal(load(&cfg, "[dataplane]\nworkers = -1\n", err, sizeof(err)), -1);
}

static void test_bad_mode_is_rejected(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	assert_int_equal(load(&cfg, "[dataplane]\nmode = proxy\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[dataplane] mode"));
}

static void test_too_long_string_is_rejected_not_truncated(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "", text[600];
	(void)state;
	snprintf(text, sizeof(text), "[dataplane]\ninstance = %0100d\n", 7);
	assert_int_equal(load(&cfg, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
}

static void test_missing_file_is_an_error(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	config_set_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/sipreg.ini", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot open"));
}

static void test_syntax_error_reports_line(void **state)
{
	struct dataplane_config cfg;
	char err[256] = "";
	(void)state;
	assert_int_equal(load(&cfg, "[dataplane]\nworkers = 1\n[broken\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_are_a_working_single_worker_setup),
		cmocka_unit_test(test_values_override_defaults),
		cmocka_unit_test(test_unknown_key_is_an_error_naming_it),
		cmocka_unit_test(test_out_of_range_names_key_and_range),
		cmocka_unit_test(test_non_number_is_rejected),
		cmocka_unit_test(test_bad_mode_is_rejected),
		cmocka_unit_test(test_too_long_string_is_rejected_not_truncated),
		cmocka_unit_test(test_missing_file_is_an_error),
		cmocka_unit_test(test_syntax_error_reports_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
