/* registrar.c — DESIGN.md "SIP behaviour", steps 1 to 8, for one datagram. */
#include "registrar.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <rte_ring.h>
#include <rte_prefetch.h>
#include <rte_ring_elem.h>

#include "aor_hash.h"
#include "hex.h"
#include "event_ring.h"
#include "stats_shm.h"

#define AOR_MAX REGISTRAR_AOR_MAX
#define ALLOW "REGISTER, OPTIONS"

int registrar_config_set_domains(struct registrar_config *cfg, const char *list)
{
	const char *p = list;

	cfg->n_domains = 0;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		size_t n = (size_t)(p - start);
		if (cfg->n_domains == REGISTRAR_MAX_DOMAINS || n >= REGISTRAR_DOMAIN_MAX)
			return -1;
		for (size_t i = 0; i < n; i++)
			cfg->domains[cfg->n_domains][i] = (char)tolower((unsigned char)start[i]);
		cfg->domains[cfg->n_domains][n] = '\0';
		cfg->domain_len[cfg->n_domains] = (uint32_t)n;
		cfg->n_domains++;
	}
	return cfg->n_domains ? 0 : -1;
}

static void count(struct registrar *r, enum stats_counter c)
{
	r->counters[c]++;
}

static bool domain_served(const struct registrar *r, struct sip_slice host)
{
	for (unsigned i = 0; i < r->cfg->n_domains; i++) {
		struct sip_slice d = { r->cfg->domains[i], r->cfg->domain_len[i] };
		if (sip_slice_eq_nocase(d, host))
			return true;
	}
	return false;
}

static enum stats_counter reply_counter(unsigned code)
{
	switch (code) {
	case 200: return STAT_reply_200;
	case 400: return STAT_reply_400;
	case 401: return STAT_reply_401;
	case 403: return STAT_reply_403;
	case 404: return STAT_reply_404;
	case 405: return STAT_reply_405;
	case 420: return STAT_reply_420;
	case 423: return STAT_reply_423;
	case 500: return STAT_reply_500;
	case 503: return STAT_reply_503;
	default: return STAT_reply_other;
	}
}

/* Finishes w; returns the action and counts the reply (or the overflow). */
static enum registrar_action finish(struct registrar *r, struct response_writer *w,
				    unsigned code, uint32_t *out_len)
{
	int n = response_finish(w);

	if (n < 0) {
		count(r, STAT_drop_reply_too_big);
		return REGISTRAR_DROP;
	}
	count(r, reply_counter(code));
	r->reply_code = code;
	*out_len = (uint32_t)n;
	return REGISTRAR_REPLY;
}

/* Two digits of v into p. */
static void two_digits(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* The RFC 1123 date of now_s, once a second. By hand rather than
 * gmtime_r + strftime: glibc's gmtime_r takes the time-zone lock, and a
 * poll core takes no locks. Days to civil date: H. Hinnant's algorithm. */
static void refresh_date(struct registrar *r, int64_t now_s)
{
	if (r->date_s == now_s)
		return;
	static const char days[] = "ThuFriSatSunMonTueWed";   /* 1970-01-01 was a Thursday */
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int64_t z = now_s / 86400 + 719468, secs = now_s % 86400;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153, day = doy - (153 * mp + 2) / 5 + 1;
	unsigned month = mp < 10 ? mp + 3 : mp - 9;
	unsigned year = (unsigned)(yoe + era * 400 + (month <= 2));
	char *p = r->date;

	memcpy(p, days + 3 * ((now_s / 86400) % 7), 3);
	memcpy(p + 3, ", ", 2);
	two_digits(p + 5, day);
	p[7] = ' ';
	memcpy(p + 8, months + 3 * (month - 1), 3);
	p[11] = ' ';
	two_digits(p + 12, year / 100);
	two_digits(p + 14, year % 100);
	p[16] = ' ';
	two_digits(p + 17, (unsigned)(secs / 3600));
	p[19] = ':';
	two_digits(p + 20, (unsigned)(secs / 60 % 60));
	p[22] = ':';
	two_digits(p + 23, (unsigned)(secs % 60));
	memcpy(p + 25, " GMT", 5);
	r->date_s = now_s;
}

static enum registrar_action simple_reply(struct registrar *r, const struct sip_msg *msg,
					  const struct sip_source *src, unsigned code,
					  const char *reason, char *out, uint32_t out_cap,
					  uint32_t *out_len)
{
	struct response_writer w;

	response_begin(&w, out, out_cap, code, reason, msg, src);
	return finish(r, &w, code, out_len);
}

static void append_challenge(struct registrar *r, struct response_writer *w,
			     struct sip_slice realm, const struct sip_source *src,
			     int64_t now_s, bool stale)
{
	/* RFC 7616 §3.7 lists challenges in order of preference, but many
	 * deployed phones (and sipsak) read only the first one, and some
	 * (baresip 1.0) refuse a 401 that offers SHA-256 at all, so the set
	 * and its order are policy: [sip] challenge. */
	static const char *const sets[][2] = {
		[CHALLENGE_MD5_SHA256] = { "MD5", "SHA-256" },
		[CHALLENGE_SHA256_MD5] = { "SHA-256", "MD5" },
		[CHALLENGE_MD5] = { "MD5", NULL },
		[CHALLENGE_SHA256] = { "SHA-256", NULL },
	};
	const char *const *algorithms = sets[r->cfg->challenge];
	struct digest_source ds = { (uint8_t)(src->ip_version == 4 ? 4 : 16), { 0 } };
	char nonce[DIGEST_NONCE_LEN];

	memcpy(ds.addr, src->addr, ds.len);
	if (digest_nonce_make(r->digest, (uint32_t)now_s, &ds, realm.ptr, realm.len, nonce) != 0) {
		response_fail(w);
		return;
	}
	for (int i = 0; i < 2 && algorithms[i]; i++) {
		size_t alg_len = strlen(algorithms[i]);
		char *p = response_reserve(w, 32 + realm.len + 10 + sizeof(nonce) + 13 + alg_len + 12 +
					       (stale ? 12 : 0) + 2);

		if (!p)
			return;
		p = response_put(p, "WWW-Authenticate: Digest realm=\"", 32);
		p = response_put(p, realm.ptr, realm.len);
		p = response_put(p, "\", nonce=\"", 10);
		p = response_put(p, nonce, sizeof(nonce));
		p = response_put(p, "\", algorithm=", 13);
		p = response_put(p, algorithms[i], alg_len);
		p = response_put(p, ", qop=\"auth\"", 12);
		if (stale)
			p = response_put(p, ", stale=true", 12);
		response_put(p, "\r\n", 2);
	}
}

static enum registrar_action challenge(struct registrar *r, const struct sip_msg *msg,
				       const struct sip_source *src, struct sip_slice realm,
				       int64_t now_s, bool stale, char *out, uint32_t out_cap,
				       uint32_t *out_len)
{
	struct response_writer w;

	count(r, stale ? STAT_auth_stale : STAT_auth_challenges);
	response_begin(&w, out, out_cap, 401, "Unauthorized", msg, src);
	append_challenge(r, &w, realm, src, now_s, stale);
	return finish(r, &w, 401, out_len);
}

bool prefix_list_contains(const struct prefix_list *list, const struct sip_source *src)
{
	uint8_t family = src->ip_version == 4 ? AF_INET : AF_INET6;

	for (uint32_t i = 0; list && i < list->n; i++)
		if (store_cidr_contains(&list->cidrs[i], family, src->addr, src->port, false))
			return true;
	return false;
}

static uint8_t source_len(const struct sip_source *src)
{
	return src->ip_version == 4 ? 4 : 16;
}

/* Appends at most cap bytes of s as string `which` of b. */
static void put_string(struct store_binding_data *b, size_t *used, enum store_string which,
		       struct sip_slice s, size_t cap)
{
	size_t n = s.len < cap ? s.len : cap;

	if (*used + n > STORE_BINDING_STRING_BYTES)
		n = STORE_BINDING_STRING_BYTES - *used;
	if (n)
		memcpy(b->str + *used, s.ptr, n);   /* absent slices have ptr NULL */
	b->str_len[which] = (uint16_t)n;
	*used += n;
}

/* The AOR of a To URI: sip:user@host, host lower-cased (AOR_MAX bytes at
 * out). False when it does not fit. */
static bool aor_of(const struct sip_uri *to, char *out, size_t *len)
{
	*len = 4 + to->user.len + 1 + to->host.len;
	if (*len > AOR_MAX)
		return false;
	memcpy(out, "sip:", 4);
	copy_short(out + 4, to->user.ptr, to->user.len);
	out[4 + to->user.len] = '@';
	/* host names are ASCII: lower-cased without tolower()'s locale lookup */
	copy_lower_ascii(out + 5 + to->user.len, to->host.ptr, to->host.len);
	return true;
}

/* A security event for history (the failed-registration log): what is
 * known of the request. Long fields are cut to fit one record: this is a
 * log line, not a binding. A full ring loses it (counted by the ring). */
static void security_event(struct registrar *r, enum store_event_type type,
			   enum store_auth_failure reason, const struct sip_msg *msg,
			   const struct sip_source *src, int64_t now_s)
{
	struct store_event *ev;
	char aor[AOR_MAX];
	size_t used = 0, aor_len = 0;
	const struct sip_uri *to = &msg->to.addr.uri;

	if (!r->events || (ev = event_ring_reserve(r->events)) == NULL)
		return;
	memset(ev, 0, offsetof(struct store_event, binding) + offsetof(struct store_binding_data, str));
	ev->version = STORE_RECORD_VERSION;
	ev->type = (uint8_t)type;
	ev->reason = (uint8_t)reason;
	ev->worker = (uint16_t)r->worker;
	ev->at_s = now_s;
	ev->binding.refreshed_at_s = now_s;
	ev->binding.registered_at_s = now_s;
	ev->binding.cseq = msg->cseq;
	ev->binding.source.family = src->ip_version == 4 ? AF_INET : AF_INET6;
	ev->binding.source.port = src->port;
	memcpy(ev->binding.source.addr, src->addr, src->ip_version == 4 ? 4 : 16);
	if (!aor_of(to, aor, &aor_len))
		aor_len = 0;
	put_string(&ev->binding, &used, STORE_STR_AOR, (struct sip_slice){ aor, (uint32_t)aor_len }, 128);
	put_string(&ev->binding, &used, STORE_STR_CONTACT,
		   msg->contact_count ? msg->contact[0].addr.uri.raw : (struct sip_slice){ NULL, 0 }, 96);
	put_string(&ev->binding, &used, STORE_STR_CALL_ID, msg->call_id, 64);
	put_string(&ev->binding, &used, STORE_STR_USER_AGENT, msg->user_agent, 60);
	event_ring_commit(r->events);
}

/* A failed authentication of msg from src: history, then the lockout
 * count; on the failure that crosses the threshold the source is locked
 * here at once and the mgmt thread is told (XDP block, other workers). */
static void auth_failed(struct registrar *r, const struct sip_msg *msg, const struct sip_source *src,
			enum store_auth_failure reason, int64_t now_s)
{
	security_event(r, STORE_EVENT_AUTH_FAILED, reason, msg, src, now_s);
	if (!r->lockouts)
		return;
	if (r->allowlist && prefix_list_contains(__atomic_load_n(r->allowlist, __ATOMIC_ACQUIRE), src))
		return;
	if (!lockout_table_fail(r->lockouts, &r->cfg->lockout, src->addr, source_len(src), now_s))
		return;
	count(r, STAT_lockouts);
	security_event(r, STORE_EVENT_LOCKED_OUT, reason, msg, src, now_s);
	struct sip_slice user = msg->to.addr.uri.user;
	if (r->lockout_notices) {
		struct lockout_notice n = { .len = source_len(src), .worker = r->worker,
					    .until_s = now_s + r->cfg->lockout.duration_s };
		memcpy(n.addr, src->addr, n.len);
		memcpy(n.user, user.ptr, user.len < sizeof(n.user) - 1 ? user.len : sizeof(n.user) - 1);
		if (rte_ring_enqueue_elem(r->lockout_notices, &n, sizeof(n)) != 0)
			count(r, STAT_lockout_notices_lost);
	}
}

static bool source_allowed(const struct store_account *a, const struct sip_source *src,
			   bool check_port)
{
	uint8_t family = src->ip_version == 4 ? AF_INET : AF_INET6;

	for (unsigned i = 0; i < a->n_cidrs && i < STORE_ACCOUNT_MAX_CIDRS; i++)
		if (store_cidr_contains(&a->cidrs[i], family, src->addr, src->port, check_port))
			return true;
	return false;
}

enum auth_outcome {
	AUTH_PASS,
	AUTH_REPLIED,     /* a 401/403 was written */
	AUTH_SILENT,      /* respond_unknown = drop */
	AUTH_RETRANSMISSION, /* the same authorized request again: answer, change nothing */
};

/* Identifies one request among retransmissions: Call-ID, CSeq, branch. */
static uint32_t request_hash(const struct sip_msg *msg)
{
	uint64_t h = store_hash_bytes(msg->call_id.ptr, msg->call_id.len, msg->cseq);

	if (msg->via_count)
		h = store_hash_bytes(msg->via[0].branch.ptr, msg->via[0].branch.len, h);
	return (uint32_t)h;
}

/* The request's Digest credentials for realm (the first), or NULL. */
static const struct sip_credentials *credentials_for(const struct sip_msg *msg,
						     struct sip_slice realm)
{
	for (unsigned i = 0; i < msg->authorization_count; i++) {
		const struct sip_credentials *c = &msg->authorization[i];
		if (c->is_digest && sip_slice_eq_nocase(c->realm, realm))
			return c;
	}
	return NULL;
}

/* The Digest input of cred in msg. Returns false for an algorithm we do
 * not offer (neither MD5 nor SHA-256). */
static bool digest_input_of(const struct sip_msg *msg, const struct sip_credentials *cred,
			    struct digest_response_input *in)
{
	enum digest_algorithm alg;

	if (!cred->algorithm.ptr || sip_slice_eq_lit_nocase(cred->algorithm, "MD5"))
		alg = DIGEST_MD5;
	else if (sip_slice_eq_lit_nocase(cred->algorithm, "SHA-256"))
		alg = DIGEST_SHA256;
	else
		return false;
	*in = (struct digest_response_input){
		.algorithm = alg,
		.method = msg->method_raw.ptr, .method_len = msg->method_raw.len,
		.uri = cred->uri.ptr, .uri_len = cred->uri.len,
		.nonce = cred->nonce.ptr, .nonce_len = cred->nonce.len,
		.nc = cred->nc.ptr, .nc_len = cred->nc.len,
		.cnonce = cred->cnonce.ptr, .cnonce_len = cred->cnonce.len,
		.qop_auth = cred->qop.ptr != NULL,
		.response = cred->response.ptr, .response_len = cred->response.len,
	};
	return true;
}

/* The account's HA1 for a Digest algorithm. */
static const char *ha1_of(const struct store_account *a, enum digest_algorithm alg)
{
	return alg == DIGEST_MD5 ? a->ha1_md5 : a->ha1_sha256;
}

/* Digest check of step 3 for the request; account may be NULL (unknown
 * user: same challenge, same 403).  stage: NULL, or the request's stage
 * (its replay-cache key). */
static enum auth_outcome check_digest(struct registrar *r, const struct sip_msg *msg,
				      const struct sip_source *src,
				      const struct store_account *account, struct sip_slice realm,
				      struct sip_slice to_user, int64_t now_s,
				      const struct registrar_stage *stage, char *out,
				      uint32_t out_cap, uint32_t *out_len,
				      enum registrar_action *action)
{
	const struct sip_credentials *cred = credentials_for(msg, realm);
	enum store_auth_failure failure = STORE_AUTH_FAILURE_WRONG_CREDENTIALS;

	if (!cred) {
		if (!account && r->cfg->respond_unknown == RESPOND_UNKNOWN_DROP) {
			count(r, STAT_drop_silent_unknown);
			return AUTH_SILENT;
		}
		*action = challenge(r, msg, src, realm, now_s, false, out, out_cap, out_len);
		return AUTH_REPLIED;
	}

	struct digest_source ds = { (uint8_t)(src->ip_version == 4 ? 4 : 16), { 0 } };
	memcpy(ds.addr, src->addr, ds.len);
	enum digest_nonce_status ns = digest_nonce_check(r->digest, (uint32_t)now_s, &ds, realm.ptr,
							 realm.len, cred->nonce.ptr, cred->nonce.len);
	if (ns == DIGEST_NONCE_INVALID) {
		count(r, STAT_auth_bad_nonce);
		*action = challenge(r, msg, src, realm, now_s, false, out, out_cap, out_len);
		return AUTH_REPLIED;
	}

	/* the stage's input when it was made of these credentials (callgrind,
	 * perf/bench-pipeline: ~85 instructions an authorized REGISTER) */
	struct digest_response_input own;
	const struct digest_response_input *in;
	if (stage && stage->cred == cred)
		in = stage->has_digest_in ? &stage->digest_in : NULL;
	else
		in = digest_input_of(msg, cred, &own) ? &own : NULL;
	if (!in) {
		*action = challenge(r, msg, src, realm, now_s, false, out, out_cap, out_len);
		return AUTH_REPLIED;
	}
	bool qop_auth = cred->qop.ptr != NULL;
	uint32_t nc = 0;
	if (qop_auth) {
		/* nc is 8 hex digits (RFC 7616 §3.4). */
		if (!sip_slice_eq_lit_nocase(cred->qop, "auth") || cred->nc.len != 8 ||
		    !cred->cnonce.len)
			goto forbidden;
		if (!hex_decode8(cred->nc.ptr, false, &nc))
			goto forbidden;
	}
	if (!account || !sip_slice_eq_nocase(cred->username, to_user)) {
		if (account) {
			count(r, STAT_auth_wrong_user);
			failure = STORE_AUTH_FAILURE_WRONG_USER;
		}
		goto forbidden;
	}
	bool matches = stage && stage->has_expected && stage->cred == cred &&
				stage->expected_account == account
		? digest_response_equals(in, stage->expected)
		: digest_response_matches(r->digest, ha1_of(account, in->algorithm), in);
	if (!matches)
		goto forbidden;
	if (ns == DIGEST_NONCE_STALE) {
		*action = challenge(r, msg, src, realm, now_s, true, out, out_cap, out_len);
		return AUTH_REPLIED;
	}
	enum replay_verdict replay = REPLAY_NEW;
	if (qop_auth) {
		/* the stage's key, if it was made of these credentials (a
		 * reload may have changed the realm since) */
		struct replay_key key = stage && stage->has_replay_key && stage->cred == cred
			? stage->replay
			: replay_cache_key(r->replay, cred->nonce.ptr, cred->nonce.len,
					   cred->cnonce.ptr, cred->cnonce.len);
		replay = replay_cache_check_key(r->replay, key, nc, request_hash(msg), (uint32_t)now_s);
	}
	if (replay == REPLAY_RETRANSMISSION) {
		count(r, STAT_retransmissions);
		return AUTH_RETRANSMISSION;
	}
	if (replay == REPLAY_REPLAYED) {
		count(r, STAT_auth_replay);
		auth_failed(r, msg, src, STORE_AUTH_FAILURE_REPLAY, now_s);
		*action = simple_reply(r, msg, src, 403, "Forbidden", out, out_cap, out_len);
		return AUTH_REPLIED;
	}
	count(r, STAT_auth_ok);
	return AUTH_PASS;

forbidden:
	auth_failed(r, msg, src, failure, now_s);
	if (!account && r->cfg->respond_unknown == RESPOND_UNKNOWN_DROP) {
		count(r, STAT_drop_silent_unknown);
		return AUTH_SILENT;
	}
	count(r, STAT_auth_failed);
	*action = simple_reply(r, msg, src, 403, "Forbidden", out, out_cap, out_len);
	return AUTH_REPLIED;
}

/* Parses a contact host that is an IP literal; false for names. */
static bool host_address(const struct sip_uri *uri, struct store_addr *out)
{
	char text[INET6_ADDRSTRLEN];

	memset(out, 0, sizeof(*out));
	if (!uri->host_is_ipv6) {
		out->family = AF_INET;
		return sip_ipv4_parse(uri->host, out->addr);
	}
	if (uri->host.len == 0 || uri->host.len >= sizeof(text))
		return false;
	memcpy(text, uri->host.ptr, uri->host.len);
	text[uri->host.len] = '\0';
	out->family = AF_INET6;
	return inet_pton(AF_INET6, text, out->addr) == 1;
}

static struct store_slice to_store(struct sip_slice s)
{
	return (struct store_slice){ s.ptr, s.len };
}

/* Joins the Path values ("a, b") into r->scratch. Returns false when they
 * do not fit. */
static bool join_path(struct registrar *r, const struct sip_msg *msg, struct store_slice *out)
{
	size_t used = 0;

	*out = (struct store_slice){ NULL, 0 };
	if (msg->path_count == 1) {
		*out = to_store(msg->path[0]);
		return true;
	}
	for (unsigned i = 0; i < msg->path_count; i++) {
		size_t need = msg->path[i].len + (i ? 2 : 0);
		if (used + need > sizeof(r->scratch))
			return false;
		if (i) {
			memcpy(r->scratch + used, ", ", 2);
			used += 2;
		}
		memcpy(r->scratch + used, msg->path[i].ptr, msg->path[i].len);
		used += msg->path[i].len;
	}
	if (used)
		*out = (struct store_slice){ r->scratch, (uint32_t)used };
	return true;
}

static void append_contact(struct response_writer *w, const struct store_binding_data *b,
			   uint32_t expires_s)
{
	size_t len, inst_len;
	const char *uri = store_binding_string(b, STORE_STR_CONTACT, &len);
	const char *inst = store_binding_string(b, STORE_STR_INSTANCE, &inst_len);
	bool reg_id = (b->flags & STORE_BINDING_HAS_REG_ID) != 0;
	char expires_digits[16], reg_id_digits[16];
	char *expires = response_decimal(expires_s, expires_digits + sizeof(expires_digits));
	char *id = reg_id ? response_decimal(b->reg_id, reg_id_digits + sizeof(reg_id_digits))
			  : reg_id_digits + sizeof(reg_id_digits);
	size_t expires_len = (size_t)(expires_digits + sizeof(expires_digits) - expires);
	size_t id_len = (size_t)(reg_id_digits + sizeof(reg_id_digits) - id);
	char *p = response_reserve(w, 10 + len + 10 + expires_len + (inst_len ? 16 + inst_len + 1 : 0) +
				       (reg_id ? 8 + id_len : 0) + 2);

	if (!p)
		return;
	p = response_put(p, "Contact: <", 10);
	p = response_put(p, uri, len);
	p = response_put(p, ">;expires=", 10);
	p = response_put(p, expires, expires_len);
	if (inst_len) {
		p = response_put(p, ";+sip.instance=\"", 16);
		p = response_put(p, inst, inst_len);
		*p++ = '"';
	}
	if (reg_id) {
		p = response_put(p, ";reg-id=", 8);
		p = response_put(p, id, id_len);
	}
	response_put(p, "\r\n", 2);
}

static void append_date(struct registrar *r, struct response_writer *w, int64_t now_s)
{
	size_t len;
	char *p;

	refresh_date(r, now_s);
	len = strlen(r->date);
	p = response_reserve(w, 6 + len + 2);
	if (!p)
		return;
	p = response_put(p, "Date: ", 6);
	p = response_put(p, r->date, len);
	response_put(p, "\r\n", 2);
}

/* The answer to a retransmitted authorized REGISTER: 200 with the AOR's
 * bindings as they are now; the table is not touched again. */
static enum registrar_action current_bindings_reply(struct registrar *r, const struct sip_msg *msg,
						    const struct sip_source *src, const char *aor,
						    size_t aor_len, int64_t now_s, char *out,
						    uint32_t out_cap, uint32_t *out_len)
{
	struct response_writer w;
	struct store_slice key = { aor, (uint32_t)aor_len };

	response_begin(&w, out, out_cap, 200, "OK", msg, src);
	for (uint32_t b = binding_table_find_aor(r->table, key); b != STORE_NO_BINDING;
	     b = binding_table_next_of_aor(r->table, b)) {
		const struct store_binding_data *d = binding_table_get(r->table, b);
		if (d && d->expires_at_s > now_s)
			append_contact(&w, d, (uint32_t)(d->expires_at_s - now_s));
	}
	for (unsigned i = 0; i < msg->path_count; i++) {
		response_append_str(&w, "Path: ");
		response_append_slice(&w, msg->path[i]);
		response_append(&w, "\r\n", 2);
	}
	append_date(r, &w, now_s);
	return finish(r, &w, 200, out_len);
}


void registrar_stage_begin(struct registrar *r, const struct sip_msg *msg,
			   enum sip_parse_status st, struct registrar_stage *s)
{
	const struct sip_uri *to = &msg->to.addr.uri;
	struct sip_slice realm = { r->cfg->realm, r->cfg->realm_len };
	const struct sip_credentials *cred;
	size_t aor_len;
	uint64_t hash;

	s->aor_hash = 0;
	s->accounts = NULL;
	s->cred = NULL;
	s->has_account_key = false;
	s->has_replay_key = false;
	s->has_digest_in = false;
	s->has_expected = false;
	if (st != SIP_PARSE_OK || !msg->is_request || msg->method != SIP_METHOD_REGISTER ||
	    to->user.len == 0 || !r->table || !aor_of(to, s->aor, &aor_len))
		return;
	hash = store_aor_hash(s->aor, aor_len);
	if (store_aor_owner_of_hash(hash, r->n_workers) != r->worker)
		return;
	binding_table_prefetch_index(r->table, hash);
	s->aor_hash = hash;
	s->aor_len = (uint16_t)aor_len;
	s->has_account_key = account_table_key(to->user.ptr, to->user.len, &s->account_key);
	if (s->has_account_key)
		account_table_prefetch(__atomic_load_n(r->accounts, __ATOMIC_ACQUIRE), &s->account_key);
	s->cred = cred = credentials_for(msg, realm);
	if (cred && r->digest)
		digest_nonce_prefetch(r->digest, cred->nonce.ptr, cred->nonce.len);
	if (cred && digest_input_of(msg, cred, &s->digest_in))
		s->has_digest_in = true;
	if (r->replay && cred && cred->qop.ptr && cred->cnonce.len) {
		s->replay = replay_cache_key(r->replay, cred->nonce.ptr, cred->nonce.len,
					     cred->cnonce.ptr, cred->cnonce.len);
		s->has_replay_key = true;
		replay_cache_prefetch(r->replay, s->replay);
	}
}

void registrar_stage_follow(struct registrar *r, const struct registrar_stage *s)
{
	if (s->has_account_key)   /* only set for a REGISTER staged here */
		account_table_prefetch_account(__atomic_load_n(r->accounts, __ATOMIC_ACQUIRE), &s->account_key);
}

void registrar_stage_accounts(struct registrar *r, struct registrar_stage *stages, uint32_t n)
{
	const struct account_table *t = __atomic_load_n(r->accounts, __ATOMIC_ACQUIRE);
	const struct account_key *keys[ACCOUNT_TABLE_BULK_MAX];
	const struct store_account *found[ACCOUNT_TABLE_BULK_MAX];
	uint32_t idx[ACCOUNT_TABLE_BULK_MAX], k = 0;

	if (n > ACCOUNT_TABLE_BULK_MAX || !t)
		return;
	for (uint32_t i = 0; i < n; i++) {
		if (stages[i].aor_hash == 0)
			continue;
		binding_table_prefetch_aor(r->table, stages[i].aor_hash);
		if (stages[i].has_account_key) {
			keys[k] = &stages[i].account_key;
			idx[k++] = i;
		}
	}
	if (k == 0)
		return;
	account_table_find_bulk(t, keys, k, found);
	for (uint32_t j = 0; j < k; j++) {
		struct registrar_stage *s = &stages[idx[j]];

		s->accounts = t;
		s->account = found[j];
		if (found[j]) {
			/* the account name (each new binding records it)
			 * and the HA1s: the first line came with the
			 * lookup's name check */
			rte_prefetch0(found[j]->account);
			rte_prefetch0(found[j]->ha1_md5);
		}
	}
	/* the group's Digest responses at once (md5_x16). Their HA1s are
	 * copied out first, in a loop of a few instructions a request, so
	 * that the group's cache misses on them overlap: read inside the
	 * digest's per-request assembly (~200 instructions each) they were
	 * taken one or two at a time. perf/bench-pipeline, 1 M users: the
	 * digest step took ~160 ns a request, ~80 with the HA1s loaded first
	 * (rdtsc around it); the authorized round as a whole ~2 % less time
	 * (ten alternating runs each, twice). */
	struct digest_expected expected[64];
	char ha1[64][DIGEST_SHA256_HEX_LEN];
	uint32_t of[64], m = 0;
	for (uint32_t j = 0; j < k; j++) {
		struct registrar_stage *s = &stages[idx[j]];
		if (!s->account || !s->has_digest_in)
			continue;
		memcpy(ha1[m], ha1_of(s->account, s->digest_in.algorithm),
		       digest_hex_len(s->digest_in.algorithm));
		expected[m] = (struct digest_expected){ .ha1 = ha1[m], .in = &s->digest_in };
		of[m++] = idx[j];
	}
	if (m == 0)
		return;
	digest_expected_many(r->digest, expected, m);
	for (uint32_t j = 0; j < m; j++) {
		struct registrar_stage *s = &stages[of[j]];
		memcpy(s->expected, expected[j].hex, sizeof(expected[j].hex));
		s->expected_account = s->account;
		s->has_expected = true;
	}
}

static enum registrar_action handle_register(struct registrar *r, const struct sip_msg *msg,
					     const struct sip_source *src, int64_t now_s,
					     bool allow_handoff, const struct registrar_stage *stage,
					     char *out, uint32_t out_cap,
					     uint32_t *out_len, uint32_t *owner)
{
	enum registrar_action action = REGISTRAR_DROP;

	/* 1. Request-URI domain. */
	if (!domain_served(r, msg->request_uri.host))
		return simple_reply(r, msg, src, 404, "Not Found", out, out_cap, out_len);
	/* 2. Require: we support path and outbound; anything else is 420. */
	bool unsupported = false;
	for (unsigned i = 0; i < msg->require_count; i++)
		if (!sip_slice_eq_lit_nocase(msg->require[i], "path") &&
		    !sip_slice_eq_lit_nocase(msg->require[i], "outbound"))
			unsupported = true;
	if (unsupported) {
		struct response_writer w;
		response_begin(&w, out, out_cap, 420, "Bad Extension", msg, src);
		response_append_str(&w, "Unsupported: ");
		bool first = true;
		for (unsigned i = 0; i < msg->require_count; i++) {
			if (sip_slice_eq_lit_nocase(msg->require[i], "path") ||
			    sip_slice_eq_lit_nocase(msg->require[i], "outbound"))
				continue;
			if (!first)
				response_append(&w, ", ", 2);
			response_append_slice(&w, msg->require[i]);
			first = false;
		}
		response_append(&w, "\r\n", 2);
		return finish(r, &w, 420, out_len);
	}
	/* The AOR: sip:user@domain of To, domain lower-cased. */
	const struct sip_uri *to = &msg->to.addr.uri;
	if ((to->scheme != SIP_SCHEME_SIP && to->scheme != SIP_SCHEME_SIPS) || to->user.len == 0)
		return simple_reply(r, msg, src, 400, "Bad To URI", out, out_cap, out_len);
	if (!domain_served(r, to->host))
		return simple_reply(r, msg, src, 404, "Not Found", out, out_cap, out_len);
	/* staged: built and hashed there already */
	char aor_buf[AOR_MAX];
	const char *aor = aor_buf;
	size_t aor_len;
	uint64_t aor_hash;
	if (stage && stage->aor_hash) {
		aor = stage->aor;
		aor_len = stage->aor_len;
		aor_hash = stage->aor_hash;
	} else {
		if (!aor_of(to, aor_buf, &aor_len))
			return simple_reply(r, msg, src, 400, "To URI Too Long", out, out_cap, out_len);
		aor_hash = store_aor_hash(aor, aor_len);
	}

	/* Ownership before any per-AOR state (replay cache, bindings). */
	uint32_t aor_owner = store_aor_owner_of_hash(aor_hash, r->n_workers);
	if (aor_owner != r->worker) {
		if (allow_handoff) {
			*owner = aor_owner;
			return REGISTRAR_HANDOFF;
		}
		/* Handed here by mistake: never apply to a table we do not own. */
		return simple_reply(r, msg, src, 500, "Server Internal Error", out, out_cap, out_len);
	}

	/* A locked-out source never reaches the digest check (its packets are
	 * also dropped in XDP within milliseconds). */
	if (r->lockouts && lockout_table_is_locked(r->lockouts, src->addr, source_len(src), now_s)) {
		count(r, STAT_drop_locked_out);
		return REGISTRAR_DROP;
	}

	/* 3. Authentication by the account's mode. */
	const struct account_table *accounts = __atomic_load_n(r->accounts, __ATOMIC_ACQUIRE);
	const struct store_account *account =
		stage && stage->accounts == accounts && accounts
			? stage->account
			: account_table_find(accounts, to->user.ptr, to->user.len);
	enum store_auth_mode mode = account ? (enum store_auth_mode)account->auth_mode
					    : STORE_AUTH_DIGEST;
	if (mode == STORE_AUTH_IP || mode == STORE_AUTH_IP_PORT || mode == STORE_AUTH_IP_DIGEST) {
		if (!source_allowed(account, src, mode == STORE_AUTH_IP_PORT)) {
			if (r->cfg->respond_unknown == RESPOND_UNKNOWN_DROP) {
				count(r, STAT_drop_silent_unknown);
				return REGISTRAR_DROP;
			}
			count(r, STAT_auth_ip_denied);
			security_event(r, STORE_EVENT_AUTH_FAILED, STORE_AUTH_FAILURE_IP_DENIED, msg, src, now_s);
			return simple_reply(r, msg, src, 403, "Forbidden", out, out_cap, out_len);
		}
	}
	if (mode == STORE_AUTH_DIGEST || mode == STORE_AUTH_IP_DIGEST) {
		struct sip_slice realm = { r->cfg->realm, r->cfg->realm_len };
		enum auth_outcome a = check_digest(r, msg, src, account, realm, to->user, now_s,
						   stage, out, out_cap, out_len, &action);
		if (a == AUTH_SILENT)
			return REGISTRAR_DROP;
		if (a == AUTH_REPLIED)
			return action;
		if (a == AUTH_RETRANSMISSION)
			return current_bindings_reply(r, msg, src, aor, aor_len, now_s, out, out_cap, out_len);
	}
	/* 4. The user owns the To AOR: the account is looked up by the To user
	 * and digest checked username == To user, so it holds here. */

	/* 5-7. The binding table decides. */
	struct registration_contact contacts[SIP_MAX_CONTACTS];
	struct store_addr source = { .family = src->ip_version == 4 ? AF_INET : AF_INET6,
				     .port = src->port };
	memcpy(source.addr, src->addr, src->ip_version == 4 ? 4 : 16);
	for (unsigned i = 0; i < msg->contact_count; i++) {
		const struct sip_contact *c = &msg->contact[i];
		struct store_addr host;
		contacts[i] = (struct registration_contact){
			.uri = to_store(c->addr.uri.raw),
			.has_expires = c->has_expires,
			.expires_s = c->expires,
			.has_q = c->has_q,
			.q_milli = c->q_milli,
			.instance = to_store(c->instance),
			.has_reg_id = c->has_reg_id,
			.reg_id = c->reg_id,
			.nat = host_address(&c->addr.uri, &host) && store_contact_is_nat(&host, &source),
		};
	}
	struct registration_request req = {
		.aor = { aor, (uint32_t)aor_len },
		.aor_hash = aor_hash,
		.call_id = to_store(msg->call_id),
		.cseq = msg->cseq,
		.has_expires_header = msg->has_expires,
		.expires_header_s = msg->expires,
		.wildcard = msg->contact_star,
		.n_contacts = msg->contact_count,
		.contacts = contacts,
		.source = source,
		.transport = STORE_TRANSPORT_UDP,
		.user_agent = to_store(msg->user_agent),
		.account = { account ? account->account : NULL,
			     account ? (uint32_t)strnlen(account->account, sizeof(account->account)) : 0 },
		.now_s = now_s,
	};
	if (!join_path(r, msg, &req.path))
		return simple_reply(r, msg, src, 400, "Path Too Long", out, out_cap, out_len);

	struct store_policy policy = r->cfg->policy;
	if (account) {
		if (account->max_bindings)
			policy.max_bindings = account->max_bindings;
		if (account->min_expires_s)
			policy.min_expires_s = account->min_expires_s;
		if (account->max_expires_s)
			policy.max_expires_s = account->max_expires_s;
	}
	/* The checkpoint is so far behind that this request's events might
	 * not fit its ring: a change that is never checkpointed would break
	 * what a 200 promises (it survives a restart), so come back later. */
	if (r->events && event_ring_capacity(r->events) - event_ring_count(r->events) <
			 2 * STORE_MAX_BINDINGS_PER_AOR) {
		struct response_writer w;
		count(r, STAT_checkpoint_behind);
		response_begin(&w, out, out_cap, 503, "Service Unavailable", msg, src);
		response_append_str(&w, "Retry-After: 1\r\n");
		return finish(r, &w, 503, out_len);
	}
	struct registration_result res;
	binding_table_apply_register(r->table, &policy, &req, &res);

	/* 8. The answer. */
	struct response_writer w;
	response_begin(&w, out, out_cap, res.status_code, res.reason, msg, src);
	if (res.status_code == 423) {
		response_append_str(&w, "Min-Expires: ");
		response_append_u32(&w, res.min_expires_s);
		response_append(&w, "\r\n", 2);
	} else if (res.status_code == 503) {
		response_append_str(&w, "Retry-After: 5\r\n");
	} else if (res.status_code == 200) {
		for (uint32_t i = 0; i < res.n_contacts; i++) {
			const struct store_binding_data *b = binding_table_get(r->table, res.contacts[i].binding);
			if (!b)
				continue;
			append_contact(&w, b, res.contacts[i].expires_s);
			/* A NAT binding refreshed now from this source: the phone
			 * is alive behind this pinhole. */
			if (r->keepalive && (b->flags & STORE_BINDING_NAT) && b->refreshed_at_s == now_s &&
			    b->source.port == source.port &&
			    memcmp(b->source.addr, source.addr, sizeof(source.addr)) == 0)
				r->nat_slots[r->n_nat_slots++] = res.contacts[i].binding;
		}
		for (unsigned i = 0; i < msg->path_count; i++) {
			response_append_str(&w, "Path: ");
			response_append_slice(&w, msg->path[i]);
			response_append(&w, "\r\n", 2);
		}
		if (res.outbound)
			response_append_str(&w, "Require: outbound\r\n");
		append_date(r, &w, now_s);
	}
	return finish(r, &w, res.status_code, out_len);
}

/* A registrar sends no requests except NAT keepalives: an answer to one
 * of those reaches the worker that sent it; every other response is
 * dropped. */
static enum registrar_action handle_response(struct registrar *r, const struct sip_msg *msg,
					     bool allow_handoff, uint32_t *owner)
{
	uint32_t worker, slot, token;

	if (!r->keepalive || msg->via_count == 0 || msg->cseq_method != SIP_METHOD_OPTIONS ||
	    !nat_keepalive_parse_branch(msg->via[0].branch, &worker, &slot, &token)) {
		count(r, STAT_drop_sip_response);
		return REGISTRAR_DROP;
	}
	if (worker != r->worker) {
		if (allow_handoff && worker < r->n_workers) {
			*owner = worker;
			return REGISTRAR_HANDOFF;
		}
		count(r, STAT_keepalive_late);
		return REGISTRAR_DROP;
	}
	count(r, nat_keepalive_answered(r->keepalive, slot, token) ? STAT_keepalive_answered
								    : STAT_keepalive_late);
	return REGISTRAR_DROP;
}

enum registrar_action registrar_handle_msg(struct registrar *r, const struct sip_msg *msg,
					   enum sip_parse_status st, const char *payload, uint32_t len,
					   const struct sip_source *src, int64_t now_s,
					   bool allow_handoff, char *out, uint32_t out_cap,
					   uint32_t *out_len, uint32_t *owner)
{
	return registrar_handle_staged(r, msg, st, payload, len, src, now_s, allow_handoff, NULL,
				       out, out_cap, out_len, owner);
}

enum registrar_action registrar_handle_staged(struct registrar *r, const struct sip_msg *msg,
					      enum sip_parse_status st, const char *payload,
					      uint32_t len, const struct sip_source *src,
					      int64_t now_s, bool allow_handoff,
					      const struct registrar_stage *stage, char *out,
					      uint32_t out_cap, uint32_t *out_len, uint32_t *owner)
{
	r->n_nat_slots = 0;
	r->reply_shows_bindings = false;
	if (r->live_cfg)
		r->cfg = __atomic_load_n(r->live_cfg, __ATOMIC_ACQUIRE);
	if (st != SIP_PARSE_OK) {
		struct response_writer w;
		if (!response_begin_raw(&w, out, out_cap, 400, sip_parse_status_reason(st), payload, len)) {
			count(r, STAT_drop_unparseable);
			return REGISTRAR_DROP;
		}
		return finish(r, &w, 400, out_len);
	}
	if (!msg->is_request)
		return handle_response(r, msg, allow_handoff, owner);
	switch (msg->method) {
	case SIP_METHOD_REGISTER: {
		enum registrar_action a = handle_register(r, msg, src, now_s, allow_handoff, stage,
							  out, out_cap, out_len, owner);
		r->reply_shows_bindings = a == REGISTRAR_REPLY && r->reply_code == 200;
		/* Counted once, by the worker that answers it. */
		if (a != REGISTRAR_HANDOFF)
			count(r, STAT_rx_register);
		return a;
	}
	case SIP_METHOD_OPTIONS: {
		struct response_writer w;
		count(r, STAT_rx_options);
		response_begin(&w, out, out_cap, 200, "OK", msg, src);
		response_header(&w, "Allow", ALLOW);
		response_header(&w, "Accept", "application/sdp");
		return finish(r, &w, 200, out_len);
	}
	case SIP_METHOD_ACK:
		count(r, STAT_drop_ack);
		return REGISTRAR_DROP;
	default: {
		struct response_writer w;
		count(r, STAT_rx_other_method);
		response_begin(&w, out, out_cap, 405, "Method Not Allowed", msg, src);
		response_header(&w, "Allow", ALLOW);
		return finish(r, &w, 405, out_len);
	}
	}
}

enum registrar_action registrar_handle(struct registrar *r, const char *payload, uint32_t len,
				       const struct sip_source *src, int64_t now_s,
				       bool allow_handoff, char *out, uint32_t out_cap,
				       uint32_t *out_len, uint32_t *owner)
{
	struct sip_msg msg;
	enum sip_parse_status st = sip_parse(payload, len, &msg);

	return registrar_handle_msg(r, &msg, st, payload, len, src, now_s, allow_handoff, out,
				    out_cap, out_len, owner);
}

enum registrar_action registrar_reply_busy(struct registrar *r, const char *payload, uint32_t len,
					   const struct sip_source *src, char *out,
					   uint32_t out_cap, uint32_t *out_len)
{
	struct sip_msg msg;
	struct response_writer w;

	if (sip_parse(payload, len, &msg) != SIP_PARSE_OK || !msg.is_request) {
		count(r, STAT_drop_unparseable);
		return REGISTRAR_DROP;
	}
	response_begin(&w, out, out_cap, 503, "Service Unavailable", &msg, src);
	response_append_str(&w, "Retry-After: 5\r\n");
	return finish(r, &w, 503, out_len);
}
