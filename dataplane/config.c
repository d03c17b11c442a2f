/* config.c — the table of every dataplane config key, and its INI loader.
 *
 * A table rather than a chain of strcmp()s so that defaults, validation
 * and the README can be checked against one list.
 */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum key_type { KEY_STRING, KEY_UINT, KEY_ENUM };

struct config_key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size;          /* KEY_STRING: buffer size; KEY_UINT: field size */
	unsigned long min, max;
	const char *default_value;
	const char *const *names;   /* KEY_ENUM: value i is names[i] */
};

#define STR(sec, key, field, def) \
	{ sec, key, KEY_STRING, offsetof(struct dataplane_config, field), \
	  sizeof(((struct dataplane_config *)0)->field), 0, 0, def, NULL }
#define UINT(sec, key, field, lo, hi, def) \
	{ sec, key, KEY_UINT, offsetof(struct dataplane_config, field), \
	  sizeof(((struct dataplane_config *)0)->field), lo, hi, def, NULL }

#define ENUM(sec, key, field, names_, def) \
	{ sec, key, KEY_ENUM, offsetof(struct dataplane_config, field), \
	  sizeof(((struct dataplane_config *)0)->field), 0, 0, def, names_ }

static const char *const mode_names[] = { "registrar", "echo", NULL };
static const char *const on_off[] = { "off", "on", NULL };
static const char *const respond_names[] = { "challenge", "drop", NULL };
static const char *const challenge_names[] = { "MD5,SHA-256", "SHA-256,MD5", "MD5", "SHA-256", NULL };

static const struct config_key config_keys[] = {
	STR("dataplane", "instance", instance, "sipreg"),
	STR("dataplane", "port", port, "net_af_xdp0,iface=sipreg-s0"),
	STR("dataplane", "xdp_prog", xdp_prog, ""),
	UINT("dataplane", "workers", workers, 1, CONFIG_MAX_WORKERS, "1"),
	UINT("dataplane", "memory_mb", memory_mb, 64, 1 << 20, "256"),
	UINT("dataplane", "busy_budget", busy_budget, 0, 1024, "0"),
	ENUM("dataplane", "mode", mode, mode_names, "registrar"),
	STR("dataplane", "stats_dir", stats_dir, "/dev/shm"),
	STR("dataplane", "mgmt_socket", mgmt_socket, ""),
	UINT("sip", "port", sip_port, 1, 65535, "5060"),
	STR("sip", "domains", domains, "sipreg.test"),
	STR("sip", "realm", realm, ""),
	UINT("sip", "nonce_validity_s", nonce_validity_s, 10, 86400, "300"),
	ENUM("sip", "challenge", challenge, challenge_names, "MD5,SHA-256"),
	ENUM("sip", "respond_unknown", respond_unknown, respond_names, "challenge"),
	UINT("policy", "default_expires_s", default_expires_s, 1, 604800, "3600"),
	UINT("policy", "min_expires_s", min_expires_s, 0, 604800, "60"),
	UINT("policy", "max_expires_s", max_expires_s, 1, 604800, "7200"),
	UINT("policy", "max_bindings", max_bindings, 1, 32, "10"),
	ENUM("policy", "register_replace", register_replace, on_off, "on"),
	UINT("policy", "nat_max_expires_s", nat_max_expires_s, 0, 604800, "120"),
	UINT("policy", "nat_keepalive_s", nat_keepalive_s, 0, 3600, "30"),
	UINT("policy", "nat_keepalive_misses", nat_keepalive_misses, 1, 100, "3"),
	UINT("policy", "expiring_window_s", expiring_window_s, 0, 86400, "60"),
	UINT("lockout", "failures", lockout_failures, 0, 1000000, "5"),
	UINT("lockout", "window_s", lockout_window_s, 1, 86400, "60"),
	UINT("lockout", "duration_s", lockout_duration_s, 1, 31536000, "900"),
	UINT("rate", "per_ip_pps", rate_per_ip_pps, 0, 100000000, "50"),
	UINT("rate", "per_ip_burst", rate_per_ip_burst, 1, 100000000, "100"),
	UINT("rate", "global_pps", rate_global_pps, 0, 1000000000, "0"),
	UINT("rate", "global_burst", rate_global_burst, 1, 1000000000, "100000"),
	STR("store", "state_dir", state_dir, "/var/lib/sipreg"),
	UINT("store", "bindings_per_worker", bindings_per_worker, 16, 1u << 30, "1000000"),
	UINT("store", "commit_window_ms", commit_window_ms, 1, 10000, "10"),
	UINT("store", "event_ring_size", event_ring_size, 1024, 1u << 24, "262144"),
	UINT("store", "bindings_max_lag_ms", bindings_max_lag_ms, 0, 60000, "1000"),
	UINT("store", "max_pending_changes", max_pending_changes, 1024, 1u << 26, "1048576"),
	UINT("store", "history_retention_s", history_retention_s, 60, 31536000, "604800"),
	ENUM("store", "sync", sync, on_off, "on"),
	ENUM("store", "reply_after_commit", reply_after_commit, on_off, "on"),
};

#define N_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

const char *config_mode_name(enum dataplane_mode mode)
{
	return mode == DATAPLANE_MODE_ECHO ? "echo" : "registrar";
}

/* Returns NULL on success, else a static description of what is wrong. */
static const char *set_value(struct dataplane_config *cfg,
			     const struct config_key *key, const char *value)
{
	char *field = (char *)cfg + key->offset;

	switch (key->type) {
	case KEY_STRING:
		if (strlen(value) >= key->size)
			return "value too long";
		strcpy(field, value);
		return NULL;
	case KEY_ENUM:
		for (unsigned i = 0; key->names[i]; i++)
			if (strcmp(value, key->names[i]) == 0) {
				*(unsigned *)field = i;
				return NULL;
			}
		return "not one of the allowed values (see README \"Configuration\")";
	case KEY_UINT: {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(value, &end, 10);
		if (errno || end == value || *end != '\0' || value[0] == '-')
			return "must be a whole number";
		if (v < key->min || v > key->max)
			return "out of range";
		if (key->size == sizeof(uint16_t))
			*(uint16_t *)field = (uint16_t)v;
		else
			*(unsigned *)field = (unsigned)v;
		return NULL;
	}
	}
	return "internal: unknown key type";
}

void config_set_defaults(struct dataplane_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_KEYS; i++)
		(void)set_value(cfg, &config_keys[i], config_keys[i].default_value);
}

struct load_ctx {
	struct dataplane_config *cfg;
	const char *path;
	char *err;
	size_t err_len;
	int failed;
};

/* inih (Debian build) gives the handler no line number; ini_parse_file()
 * returns the line of the first error instead, so messages are written
 * without it and load_config prefixes it. Only the first error is kept. */
static int on_ini_entry(void *user, const char *section, const char *name,
			const char *value)
{
	struct load_ctx *ctx = user;

	if (ctx->failed)
		return 0;

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct config_key *key = &config_keys[i];
		if (strcmp(key->section, section) || strcmp(key->name, name))
			continue;
		const char *problem = set_value(ctx->cfg, key, value);
		if (!problem)
			return 1;
		if (key->type == KEY_UINT)
			snprintf(ctx->err, ctx->err_len, "[%s] %s = '%s': %s (%lu..%lu)",
				 section, name, value, problem, key->min, key->max);
		else
			snprintf(ctx->err, ctx->err_len, "[%s] %s = '%s': %s",
				 section, name, value, problem);
		ctx->failed = 1;
		return 0;
	}
	snprintf(ctx->err, ctx->err_len, "unknown key [%s] %s", section, name);
	ctx->failed = 1;
	return 0;
}

int config_load(struct dataplane_config *cfg, const char *path, char *err,
		size_t err_len)
{
	struct load_ctx ctx = { cfg, path, err, err_len, 0 };
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	int rc = ini_parse_file(f, on_ini_entry, &ctx);
	fclose(f);
	if (ctx.failed) {
		char detail[512];

		snprintf(detail, sizeof(detail), "%s", err);
		snprintf(err, err_len, "%s:%d: %s", path, rc, detail);
		return -1;
	}
	if (rc != 0) {
		snprintf(err, err_len, "%s:%d: syntax error", path, rc);
		return -1;
	}
	return 0;
}
