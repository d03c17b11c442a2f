/* fuzz_registrar — every datagram a worker may receive, through the whole
 * registrar: parse, method dispatch, domain, Require, digest and IP
 * authentication, lockout, the binding table, the response writer.
 *
 * Checks beyond the sanitizers: an answer is never longer than the buffer
 * it was given, and an answer is a SIP response. Inputs starting with a
 * byte < 0x20 are also sent again from a second source, so the lockout and
 * replay state see more than one address.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "account_import.h"
#include "registrar.h"
#include "stats_shm.h"

static struct registrar reg;
static struct registrar_config cfg;
static struct account_table *accounts;
static struct prefix_list *allow;
static uint64_t counters[STATS_SHM_MAX_COUNTERS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const rows[][5] = {
		{ "alice", "secret-a", "acme", "digest", "" },
		{ "trunk", "", "carrier", "ip", "198.18.0.0/24" },
		{ "pbx", "", "carrier", "ip+port", "198.18.0.2:5062" },
		{ "both", "secret-b", "acme", "ip+digest", "198.18.0.0/16" },
	};
	static const uint8_t secret[DIGEST_SECRET_LEN] = { 1 };
	char *eal_argv[] = { "fuzz", "--no-huge", "--no-pci", "-m", "128", "--no-shconf",
			     "--log-level=error", "--file-prefix=fuzz-registrar", NULL };
	struct store_account a[4];
	char err[200];

	(void)argc;
	(void)argv;
	if (rte_eal_init(8, eal_argv) < 0)
		abort();
	for (int i = 0; i < 4; i++) {
		const char *f[5] = { rows[i][0], rows[i][1], rows[i][2], rows[i][3], rows[i][4] };
		if (store_account_from_fields(f, 5, "sipreg.test", &a[i], err, sizeof(err)) != 0)
			abort();
	}
	accounts = account_table_from_array(a, 4, SOCKET_ID_ANY);
	registrar_config_set_domains(&cfg, "sipreg.test, 198.18.0.1");
	strcpy(cfg.realm, "sipreg.test");
	cfg.realm_len = (uint32_t)strlen(cfg.realm);
	cfg.nonce_validity_s = 300;
	cfg.lockout = (struct lockout_policy){ 5, 60, 900 };
	store_policy_defaults(&cfg.policy);
	allow = calloc(1, sizeof(*allow) + sizeof(struct store_cidr));
	allow->n = 1;
	store_cidr_parse("198.18.9.0/24", &allow->cidrs[0]);
	reg = (struct registrar){
		.cfg = &cfg,
		.table = binding_table_create(4096, 0, NULL, 1800000000),
		.digest = digest_engine_create(secret, 300),
		.replay = replay_cache_create(4096, SOCKET_ID_ANY),
		.accounts = &accounts,
		.counters = counters,
		.lockouts = lockout_table_create(1024, SOCKET_ID_ANY),
		.allowlist = &allow,
		.keepalive = nat_keepalive_create(4096, 0),
		.worker = 0,
		.n_workers = 1,
	};
	if (!accounts || !reg.table || !reg.digest || !reg.replay || !reg.lockouts || !reg.keepalive)
		abort();
	return 0;
}

static const struct packet_path path = { .ip_version = 4, .local_port = 5060,
					 .local_ip = { 198, 18, 0, 1 } };

/* staged: as a worker answers its own frames (parse, stage, bulk account
 * lookup, answer); else registrar_handle alone, as for a handed-off one. */
static void one(const uint8_t *data, size_t size, const struct sip_source *src, int64_t now,
		bool staged)
{
	static char out[1500];
	static struct sip_msg msg;
	struct registrar_stage stage;
	uint32_t out_len = 0, owner = 0;
	enum registrar_action a;
	/* A copy of exactly size bytes: ASan sees any read past the datagram. */
	char *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	if (staged) {
		enum sip_parse_status st = sip_parse(copy, (uint32_t)size, &msg);

		registrar_stage_begin(&reg, &msg, st, &stage);
		registrar_stage_accounts(&reg, &stage, 1);
		a = registrar_handle_staged(&reg, &msg, st, copy, (uint32_t)size, src, now, true,
					    &stage, out, sizeof(out), &out_len, &owner);
	} else {
		a = registrar_handle(&reg, copy, (uint32_t)size, src, now, true, out, sizeof(out),
				     &out_len, &owner);
	}
	if (a == REGISTRAR_REPLY && (out_len > sizeof(out) || out_len < 12 || memcmp(out, "SIP/2.0 ", 8) != 0))
		abort();
	/* NAT bindings it registered get tracked and probed, as in a worker. */
	for (uint32_t i = 0; i < reg.n_nat_slots; i++)
		nat_keepalive_track(reg.keepalive, reg.nat_slots[i],
				    binding_table_get(reg.table, reg.nat_slots[i]), &path);
	struct nat_keepalive_probe probes[4];
	uint32_t removed = 0;
	nat_keepalive_sweep(reg.keepalive, reg.table, now * 1000, 1, 2, probes, 4, &removed);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int64_t now = 1800000000;
	static const struct sip_source a = { 4, { 198, 18, 0, 2 }, 5062 };
	static const struct sip_source b = { 6, { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 }, 5060 };

	if (size > 65535)
		return 0;
	now++;                      /* expiry and nonce age move on */
	one(data, size, &a, now, true);
	if (size && data[0] < 0x20)
		one(data + 1, size - 1, &b, now, false);
	if ((now & 1023) == 0)
		binding_table_expire(reg.table, now);
	return 0;
}
