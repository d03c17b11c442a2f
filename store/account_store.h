/*
 * account_store.h - accounts in the `config` LMDB environment.
 *
 * sipreg-control (and tools/sipreg-accounts until it exists) writes
 * accounts; the dataplane reads them all at start and on a reload command,
 * into its in-memory account table. Passwords are never stored: only HA1
 * for MD5 and SHA-256 (RFC 7616), which is all a registrar needs.
 *
 * Layout: <state_dir>/config/ is one LMDB environment with named databases;
 * "accounts" maps username -> struct store_account (fixed size, host
 * endian, versioned); "policy" holds one record, key "policy", whose value
 * is the operator policy as a JSON object (sipreg-control validates it;
 * the dataplane applies it: dataplane/policy_file.h).
 *
 * Thread rules: one store_config per process (LMDB forbids opening an
 * environment twice in one process); every function opens its own
 * transaction, so callers on different threads may share it.
 */
#ifndef SIPREG_STORE_ACCOUNT_STORE_H
#define SIPREG_STORE_ACCOUNT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_ACCOUNT_VERSION 1u
#define STORE_ACCOUNT_NAME_MAX 64      /* username, account, realm: bytes incl. NUL */
#define STORE_ACCOUNT_MAX_CIDRS 8

enum store_auth_mode {
	STORE_AUTH_DIGEST = 0,   /* challenge, check the digest */
	STORE_AUTH_IP,           /* source IP in the account's CIDRs; no challenge */
	STORE_AUTH_IP_PORT,      /* source IP and port must match an entry */
	STORE_AUTH_IP_DIGEST,    /* source IP in the CIDRs, and the digest */
	STORE_AUTH_MODE_COUNT
};

/* An address block; port 0 matches every port (only STORE_AUTH_IP_PORT
 * looks at ports). */
struct store_cidr {
	uint8_t family;          /* AF_INET or AF_INET6 */
	uint8_t prefix_len;
	uint16_t port;           /* host order */
	uint8_t addr[16];        /* network order; IPv4 in the first 4 bytes */
};

struct store_account {
	uint16_t version;        /* STORE_ACCOUNT_VERSION */
	uint8_t auth_mode;       /* enum store_auth_mode */
	uint8_t n_cidrs;
	uint32_t max_bindings;   /* 0: the global policy */
	uint32_t min_expires_s;  /* 0: the global policy */
	uint32_t max_expires_s;  /* 0: the global policy */
	char username[STORE_ACCOUNT_NAME_MAX];
	char account[STORE_ACCOUNT_NAME_MAX];   /* billing/customer name */
	char realm[STORE_ACCOUNT_NAME_MAX];     /* the HA1s were computed with it */
	char ha1_md5[33];                       /* lower-case hex, NUL-terminated */
	char ha1_sha256[65];
	struct store_cidr cidrs[STORE_ACCOUNT_MAX_CIDRS];
};

struct store_config;

/* Opens (creating when read_only is false) <state_dir>/config. Returns 0,
 * a negative errno (mkdir failed), or a positive LMDB error code. */
int store_config_open(const char *state_dir, bool read_only, struct store_config **out);
void store_config_close(struct store_config *c);

/* Inserts or replaces the account (key: username). Returns 0, EINVAL for an
 * account that fails store_account_validate, or an LMDB error code. */
int store_account_put(struct store_config *c, const struct store_account *a);

/* Writes many accounts in one transaction (import). Returns 0, or the
 * error of the first account that failed (nothing is written then) with
 * *failed_index set. */
int store_account_put_many(struct store_config *c, const struct store_account *a,
			   size_t n, size_t *failed_index);

/* Removes the account. Returns 0, MDB_NOTFOUND, or an LMDB error code. */
int store_account_delete(struct store_config *c, const char *username);

/* Reads one account. Returns 0, MDB_NOTFOUND, EPROTO (record of another
 * version or size), or an LMDB error code. */
int store_account_get(struct store_config *c, const char *username, struct store_account *out);

/* Calls fn for every account in username order inside one read snapshot;
 * stops early when fn returns non-zero and returns that value. Records of
 * another version are skipped and counted in *skipped (may be NULL).
 * Returns 0 or an LMDB error code. */
int store_account_foreach(struct store_config *c,
			  int (*fn)(const struct store_account *a, void *arg), void *arg,
			  uint64_t *skipped);

/* The stored policy JSON text into buf (NUL-terminated). Returns 0,
 * MDB_NOTFOUND when none was stored, ENOSPC when it does not fit, or an
 * LMDB error code. */
int store_policy_get(struct store_config *c, char *buf, size_t cap);

/* Stores the policy JSON text (replacing it). Returns 0 or an LMDB error
 * code (EINVAL for an empty text). */
int store_policy_put(struct store_config *c, const char *json, size_t len);

/* Counts accounts. Returns 0 and sets *n, or an LMDB error code. */
int store_account_count(struct store_config *c, uint64_t *n);

/* Checks the invariants every stored account keeps: terminated names,
 * non-empty username, HA1s of hex of the right length (both present for
 * digest modes), CIDRs for IP modes, prefix lengths in range. Returns NULL
 * when valid, else a static description of the first problem. */
const char *store_account_validate(const struct store_account *a);

/* "digest", "ip", "ip+port", "ip+digest"; NULL for an unknown value. */
const char *store_auth_mode_name(enum store_auth_mode mode);

/* Parses a mode name. Returns 0, or -1 for an unknown name. */
int store_auth_mode_parse(const char *s, enum store_auth_mode *out);

/* Parses "198.18.0.0/24", "198.18.0.5" (a /32), "2001:db8::/64",
 * "198.18.0.5:5062" or "[2001:db8::5]:5062" (an address with a port).
 * Returns 0, or -1 for anything else. */
int store_cidr_parse(const char *s, struct store_cidr *out);

/* Writes a CIDR in the form store_cidr_parse reads. Returns 0 or -1 when
 * it does not fit. */
int store_cidr_format(const struct store_cidr *c, char *buf, size_t len);

/* True when addr (family, 4 or 16 bytes network order) lies in c and, when
 * check_port, port equals c->port (c->port 0 matches any port). */
bool store_cidr_contains(const struct store_cidr *c, uint8_t family, const uint8_t *addr,
			 uint16_t port, bool check_port);

#endif
