/* Unit tests for dataplane/eal_args.c: EAL flags derive from the config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "eal_args.h"

static int has_arg(const struct eal_args *a, const char *want)
{
	for (int i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], want) == 0)
			return 1;
	return 0;
}

static const char *arg_with_prefix(const struct eal_args *a, const char *prefix)
{
	for (int i = 0; i < a->argc; i++)
		if (strncmp(a->argv[i], prefix, strlen(prefix)) == 0)
			return a->argv[i];
	return NULL;
}

static void test_each_instance_gets_its_own_file_prefix_and_huge_unlink(void **state)
{
	struct dataplane_config cfg;
	struct eal_args a;
	(void)state;
	config_set_defaults(&cfg);
	strcpy(cfg.instance, "edge7");
	assert_int_equal(eal_args_build(&a, &cfg, "prog", "/x.o"), 0);
	assert_true(has_arg(&a, "--file-prefix=sipreg-edge7"));
	assert_true(has_arg(&a, "--huge-unlink"));
	assert_null(a.argv[a.argc]);
}

static void test_af_xdp_port_gets_our_xdp_program(void **state)
{
	struct dataplane_config cfg;
	struct eal_args a;
	(void)state;
	config_set_defaults(&cfg);
	strcpy(cfg.port, "net_af_xdp0,iface=veth1");
	assert_int_equal(eal_args_build(&a, &cfg, "prog", "/lib/sip.o"), 0);
	assert_true(has_arg(&a, "--no-pci"));
	assert_string_equal(arg_with_prefix(&a, "--vdev="),
			    "--vdev=net_af_xdp0,iface=veth1,xdp_prog=/lib/sip.o,busy_budget=0");
}

static void test_explicit_xdp_prog_devarg_is_kept(void **state)
{
	struct dataplane_config cfg;
	struct eal_args a;
	(void)state;
	config_set_defaults(&cfg);
	strcpy(cfg.port, "net_af_xdp0,iface=veth1,xdp_prog=/mine.o,busy_budget=64");
	assert_int_equal(eal_args_build(&a, &cfg, "prog", "/lib/sip.o"), 0);
	assert_string_equal(arg_with_prefix(&a, "--vdev="),
			    "--vdev=net_af_xdp0,iface=veth1,xdp_prog=/mine.o,busy_budget=64");
}

static void test_pci_port_is_allowlisted_not_vdev(void **state)
{
	struct dataplane_config cfg;
	struct eal_args a;
	(void)state;
	config_set_defaults(&cfg);
	strcpy(cfg.port, "0000:03:00.0");
	assert_int_equal(eal_args_build(&a, &cfg, "prog", "/x.o"), 0);
	assert_true(has_arg(&a, "-a"));
	assert_true(has_arg(&a, "0000:03:00.0"));
	assert_null(arg_with_prefix(&a, "--vdev"));
	assert_false(has_arg(&a, "--no-pci"));
}

static void test_one_lcore_per_worker_plus_main(void **state)
{
	struct dataplane_config cfg;
	struct eal_args a;
	(void)state;
	config_set_defaults(&cfg);
	cfg.workers = 3;
	assert_int_equal(eal_args_build(&a, &cfg, "prog", "/x.o"), 0);
	const char *l = arg_with_prefix(&a, "--lcores=");
	assert_non_null(l);
	assert_non_null(strstr(l, "0@"));
	assert_non_null(strstr(l, ",3@"));
	assert_null(strstr(l, ",4@"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_instance_gets_its_own_file_prefix_and_huge_unlink),
		cmocka_unit_test(test_af_xdp_port_gets_our_xdp_program),
		cmocka_unit_test(test_explicit_xdp_prog_devarg_is_kept),
		cmocka_unit_test(test_pci_port_is_allowlisted_not_vdev),
		cmocka_unit_test(test_one_lcore_per_worker_plus_main),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
