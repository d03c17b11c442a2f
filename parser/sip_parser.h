/*
 * sip_parser.h - zero-copy SIP message parser for the registrar hot path.
 *
 * Why it is built this way: every datagram the dataplane accepts goes
 * through sip_parse() on a poll-mode core, so the parser must not allocate,
 * must not make system calls, must finish in time bounded by the datagram
 * length, and must never read outside [buf, buf + len). libosip2 is correct
 * but allocates ~113 times per REGISTER; it is our oracle in tests
 * (tests/parser/, tests/fuzz/), not our parser.
 *
 * Ownership: every struct sip_slice filled in here points INTO THE CALLER'S
 * BUFFER. Nothing is copied, nothing is unescaped, nothing is NUL-terminated.
 * The parsed struct is valid only as long as that buffer is alive and
 * unchanged. Values keep their wire form: quoted strings are given without
 * their surrounding quotes but with their backslash escapes; URI parts keep
 * their %HH escapes; a folded header value (RFC 3261 §7.3.1) keeps its CRLF
 * and leading whitespace inside the slice.
 *
 * Limits are compile-time constants (SIP_MAX_*). When a message needs more
 * room than a limit, sip_parse() fails with a dedicated SIP_PARSE_TOO_MANY_*
 * status: nothing is ever silently dropped.
 *
 * Thread safety: all functions are pure over their arguments (reentrant, no
 * global state).
 *
 * Cost: one pass, O(len); runs are scanned 16 bytes at a time with SSE2,
 * character classes with SSSE3 where the build enables it (-msse4.2 on
 * x86, parser/meson.build) (loads may pass a field's end, never
 * buf + len; the datagram's last 15 bytes are read one by one). perf/bench-parse measures it against
 * libosip2; tests/parser/ and tests/fuzz/ check it against libosip2.
 */
#ifndef SIPREG_SIP_PARSER_H
#define SIPREG_SIP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Compile-time limits. Chosen to hold every REGISTER of the phones in
 * tests/parser/corpus/ with room to spare; a message above them gets a
 * SIP_PARSE_TOO_MANY_* status (the dataplane answers 400 or 513). */
#define SIP_MAX_VIAS         64   /* Via entries (after splitting on commas); RFC 4475 longreq has 34 */
#define SIP_MAX_CONTACTS      8   /* Contact entries */
#define SIP_MAX_CREDENTIALS   4   /* Authorization / Proxy-Authorization headers, each */
#define SIP_MAX_PATHS         8   /* Path entries */
#define SIP_MAX_OPTION_TAGS  16   /* Supported / Require option tags, each */
#define SIP_MAX_OTHER_HEADERS 32  /* headers not decoded by this parser */
#define SIP_MAX_MESSAGE_LEN  65535 /* a UDP datagram cannot be longer */

/* A view into the caller's buffer. ptr is NULL and len 0 when absent.
 * A present but empty value (e.g. realm="") has ptr != NULL and len 0. */
struct sip_slice {
	const char *ptr;
	uint32_t len;
};

enum sip_parse_status {
	SIP_PARSE_OK = 0,
	SIP_PARSE_EMPTY,                 /* zero-length datagram */
	SIP_PARSE_TOO_LONG,              /* longer than SIP_MAX_MESSAGE_LEN */
	SIP_PARSE_NUL_IN_HEADERS,        /* NUL byte in the headers, other than a quoted-pair */
	SIP_PARSE_NO_END_OF_LINE,        /* start line or header without line end */
	SIP_PARSE_NO_END_OF_HEADERS,     /* no empty line after the headers */
	SIP_PARSE_BARE_CR,               /* CR not followed by LF inside the headers */
	SIP_PARSE_BAD_START_LINE,        /* neither a request line nor a status line */
	SIP_PARSE_BAD_METHOD,            /* method is not a token */
	SIP_PARSE_BAD_REQUEST_URI,       /* Request-URI does not parse */
	SIP_PARSE_BAD_VERSION,           /* not SIP/2.0 */
	SIP_PARSE_BAD_STATUS_CODE,       /* status code is not 3 digits 100..699 */
	SIP_PARSE_BAD_REASON_PHRASE,     /* control character in the reason phrase */
	SIP_PARSE_BAD_HEADER_NAME,       /* header name is not a token */
	SIP_PARSE_MISSING_COLON,         /* header line without ':' after the name */
	SIP_PARSE_BAD_VIA,
	SIP_PARSE_BAD_FROM,
	SIP_PARSE_BAD_TO,
	SIP_PARSE_BAD_CALL_ID,
	SIP_PARSE_BAD_CSEQ,
	SIP_PARSE_BAD_CONTACT,
	SIP_PARSE_BAD_EXPIRES,
	SIP_PARSE_BAD_MAX_FORWARDS,
	SIP_PARSE_BAD_CONTENT_LENGTH,
	SIP_PARSE_BAD_AUTHORIZATION,
	SIP_PARSE_BAD_PROXY_AUTHORIZATION,
	SIP_PARSE_BAD_PATH,
	SIP_PARSE_BAD_OPTION_TAG,        /* Supported or Require */
	SIP_PARSE_DUPLICATE_FROM,
	SIP_PARSE_DUPLICATE_TO,
	SIP_PARSE_DUPLICATE_CALL_ID,
	SIP_PARSE_DUPLICATE_CSEQ,
	SIP_PARSE_DUPLICATE_EXPIRES,
	SIP_PARSE_DUPLICATE_MAX_FORWARDS,
	SIP_PARSE_DUPLICATE_CONTENT_LENGTH,
	SIP_PARSE_DUPLICATE_CONTENT_TYPE,
	SIP_PARSE_MISSING_VIA,
	SIP_PARSE_MISSING_FROM,
	SIP_PARSE_MISSING_TO,
	SIP_PARSE_MISSING_CALL_ID,
	SIP_PARSE_MISSING_CSEQ,
	SIP_PARSE_CSEQ_METHOD_MISMATCH,  /* request: CSeq method != request method */
	SIP_PARSE_BODY_TRUNCATED,        /* Content-Length larger than the bytes left */
	SIP_PARSE_TOO_MANY_VIAS,
	SIP_PARSE_TOO_MANY_CONTACTS,
	SIP_PARSE_TOO_MANY_CREDENTIALS,
	SIP_PARSE_TOO_MANY_PATHS,
	SIP_PARSE_TOO_MANY_OPTION_TAGS,
	SIP_PARSE_TOO_MANY_HEADERS,
	SIP_PARSE_STATUS_COUNT           /* number of statuses, not a status */
};

enum sip_method {
	SIP_METHOD_NONE = 0,   /* response, or not parsed */
	SIP_METHOD_OTHER,      /* an extension method: see method_raw */
	SIP_METHOD_REGISTER,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_PUBLISH,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_INFO,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_REFER,
};

enum sip_uri_scheme {
	SIP_SCHEME_NONE = 0,
	SIP_SCHEME_SIP,
	SIP_SCHEME_SIPS,
	SIP_SCHEME_OTHER,      /* e.g. tel:; only raw and scheme_raw are set */
};

/* A decoded SIP or SIPS URI (RFC 3261 §19.1). */
struct sip_uri {
	struct sip_slice raw;        /* the whole URI */
	enum sip_uri_scheme scheme;
	struct sip_slice scheme_raw; /* as written, e.g. "SIP" */
	struct sip_slice user;       /* escaped form, may be absent */
	struct sip_slice password;   /* escaped form, may be absent */
	struct sip_slice host;       /* IPv6 reference without its brackets */
	bool host_is_ipv6;
	bool has_port;
	uint16_t port;               /* 0 when has_port is false */
	struct sip_slice params;     /* from the first ';' (included); iterate with sip_param_next() */
	struct sip_slice headers;    /* after '?', without it */
	struct sip_slice transport;  /* value of the transport= parameter */
};

/* One Via entry (RFC 3261 §20.42, RFC 3581). */
struct sip_via {
	struct sip_slice protocol;   /* "SIP" */
	struct sip_slice version;    /* "2.0" */
	struct sip_slice transport;  /* "UDP", "TCP", "TLS", ... as written */
	struct sip_slice host;       /* sent-by host, IPv6 without brackets */
	bool host_is_ipv6;
	bool has_port;
	uint16_t port;
	struct sip_slice branch;
	struct sip_slice received;
	bool has_rport;              /* ";rport" present, with or without value */
	bool rport_has_value;
	uint16_t rport;
	struct sip_slice rport_name; /* the rport parameter's name, where a value goes */
	struct sip_slice params;     /* every parameter, from the first ';' (included) */
	struct sip_slice sent_raw;   /* sent-protocol and sent-by as written ("SIP/2.0/UDP
				      * 198.18.0.1:5062"); absent when the header was folded */
};

/* name-addr / addr-spec with header parameters (From, To, Contact). */
struct sip_name_addr {
	struct sip_slice display;    /* unquoted, escapes kept; absent if none */
	bool display_quoted;
	struct sip_uri uri;
	struct sip_slice params;     /* header parameters, from the first ';' (included) */
};

struct sip_from_to {
	bool present;
	struct sip_name_addr addr;
	struct sip_slice tag;
	/* the whole value as written (trimmed), for echoing it; absent when
	 * the header was folded over more than one line */
	struct sip_slice raw;
};

/* One Contact entry (RFC 3261 §20.10, RFC 5626 §4.2). */
struct sip_contact {
	struct sip_name_addr addr;
	bool has_q;
	uint16_t q_milli;            /* q=0.5 -> 500; 0..1000 */
	struct sip_slice q;
	bool has_expires;
	uint32_t expires;            /* saturates at UINT32_MAX */
	struct sip_slice instance;   /* +sip.instance value, without quotes */
	bool has_reg_id;
	uint32_t reg_id;
};

/* Digest credentials (RFC 3261 §22.4, RFC 7616). Quoted values are given
 * without their quotes. */
struct sip_credentials {
	struct sip_slice scheme;     /* "Digest" (any case) or another scheme */
	bool is_digest;
	struct sip_slice params;     /* everything after the scheme */
	struct sip_slice username;
	struct sip_slice realm;
	struct sip_slice nonce;
	struct sip_slice uri;
	struct sip_slice response;
	struct sip_slice algorithm;
	struct sip_slice qop;
	struct sip_slice nc;
	struct sip_slice cnonce;
	struct sip_slice opaque;
};

struct sip_header {
	struct sip_slice name;       /* as written */
	struct sip_slice value;      /* leading and trailing whitespace removed */
};

struct sip_msg {
	bool is_request;
	/* request line */
	enum sip_method method;
	struct sip_slice method_raw;
	struct sip_uri request_uri;
	/* status line */
	uint16_t status_code;
	struct sip_slice reason;
	struct sip_slice version;    /* "SIP/2.0" as written */

	struct sip_from_to from;
	struct sip_from_to to;
	struct sip_slice call_id;
	bool has_cseq;
	uint32_t cseq;
	enum sip_method cseq_method;
	struct sip_slice cseq_method_raw;
	struct sip_slice cseq_raw;   /* the whole value, as From's raw */
	bool has_expires;
	uint32_t expires;            /* saturates at UINT32_MAX */
	bool has_max_forwards;
	uint32_t max_forwards;
	bool has_content_length;
	uint32_t content_length;
	bool has_content_type;       /* the header itself is in other[] */
	bool contact_star;           /* "Contact: *", then contact_count is 0 */
	struct sip_slice user_agent;
	struct sip_slice body;       /* Content-Length bytes, else the rest */

	uint8_t via_count;
	uint8_t contact_count;
	uint8_t authorization_count;
	uint8_t proxy_authorization_count;
	uint8_t path_count;
	uint8_t supported_count;
	uint8_t require_count;
	uint8_t other_count;

	/* Arrays: only the first *_count entries are written by sip_parse(). */
	struct sip_via via[SIP_MAX_VIAS];
	struct sip_contact contact[SIP_MAX_CONTACTS];
	struct sip_credentials authorization[SIP_MAX_CREDENTIALS];
	struct sip_credentials proxy_authorization[SIP_MAX_CREDENTIALS];
	struct sip_slice path[SIP_MAX_PATHS];          /* each entry as written */
	struct sip_slice supported[SIP_MAX_OPTION_TAGS];
	struct sip_slice require[SIP_MAX_OPTION_TAGS];
	struct sip_header other[SIP_MAX_OTHER_HEADERS];
};

/*
 * Parses one SIP message (a whole UDP datagram) in buf[0..len).
 * Does not allocate, does not write to buf, reads nothing outside it.
 * Returns SIP_PARSE_OK and fills *msg, or on bad input the status naming
 * the first malformation found; *msg is then partially filled and must not
 * be used. A request or response must carry Via, From, To, Call-ID and CSeq;
 * a request's CSeq method must equal its method. Without Content-Length the
 * body is the rest of the datagram; with it, bytes past it are ignored
 * (RFC 3261 §18.3) and a shorter datagram is SIP_PARSE_BODY_TRUNCATED.
 */
enum sip_parse_status sip_parse(const char *buf, size_t len, struct sip_msg *msg);

/* Short human reason for a status, suitable for a 400 reason phrase
 * ("Bad Via", "Missing Call-ID", ...). Returns "Unknown parse error" for a
 * value outside the enum; never NULL. */
const char *sip_parse_status_reason(enum sip_parse_status status);

/* Name of the enum constant ("SIP_PARSE_BAD_VIA"), for logs and tests.
 * Returns "SIP_PARSE_?" for a value outside the enum; never NULL. */
const char *sip_parse_status_name(enum sip_parse_status status);

/*
 * Parses a SIP/SIPS URI (or another absolute URI, scheme OTHER) in s.
 * Returns true and fills *uri; returns false for a malformed URI (no scheme,
 * empty or invalid host, port not a number in 0..65535, bad IPv6
 * reference, whitespace inside), leaving *uri partially filled.
 */
bool sip_uri_parse(struct sip_slice s, struct sip_uri *uri);

/*
 * Iterates ";name=value;name2" parameter lists such as sip_uri.params,
 * sip_via.params, sip_name_addr.params (each item starts with ';', LWS
 * allowed around ';' and '='). *rest is the list still to read; on each
 * call returns true with the next *name and *value (value.ptr is NULL for
 * a parameter without '=', quotes are removed from a quoted value), and
 * advances *rest. Returns false when the list is exhausted, and also when
 * the rest is malformed (no ';', empty name, '=' without a value, an
 * unclosed quote): a caller that must tell the two apart checks that
 * rest->len is 0 after the last item.
 */
bool sip_param_next(struct sip_slice *rest, struct sip_slice *name, struct sip_slice *value);

/* Looks up one parameter by name (case-insensitive) in a list as above.
 * Returns true and sets *value (value.ptr NULL when it has no '='); false
 * when absent or when the list is malformed before reaching it. */
bool sip_param_find(struct sip_slice params, const char *name, struct sip_slice *value);

/* sip_bytes_equal for n in w..2w: the first and the last w bytes; w is a
 * constant at every call, so each memcpy is one load. */
static inline __attribute__((always_inline)) bool sip_ends_equal(const char *a, const char *b, size_t n,
									size_t w)
{
	uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;

	memcpy(&a0, a, w);
	memcpy(&b0, b, w);
	memcpy(&a1, a + n - w, w);
	memcpy(&b1, b + n - w, w);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* True when a[0..n) and b[0..n) hold the same bytes. Inline, with at most
 * two overlapping loads a side up to 16 bytes: the names compared for
 * every REGISTER (domain, realm, user, algorithm, qop) are short, and a
 * call to libc's memcmp and back cost more than the compare
 * (perf/bench-pipeline, callgrind). */
static inline bool sip_bytes_equal(const char *a, const char *b, size_t n)
{
	if (n > 16)
		return memcmp(a, b, n) == 0;
	if (n >= 8)
		return sip_ends_equal(a, b, n, 8);
	if (n >= 4)
		return sip_ends_equal(a, b, n, 4);
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* sip_slice_eq_nocase for slices of the same length whose bytes differ:
 * compares them again ignoring ASCII case. */
bool sip_slice_eq_fold(struct sip_slice a, struct sip_slice b);

/* True when a and b have the same length and equal bytes ignoring ASCII
 * case. Two absent slices are equal. Names usually arrive in the case
 * they are configured in, so the exact compare comes first. */
static inline bool sip_slice_eq_nocase(struct sip_slice a, struct sip_slice b)
{
	if (a.len != b.len)
		return false;
	if (a.len == 0 || sip_bytes_equal(a.ptr, b.ptr, a.len))
		return true;
	return sip_slice_eq_fold(a, b);
}

/* True when s equals the NUL-terminated literal lit, ignoring ASCII case. */
static inline bool sip_slice_eq_lit_nocase(struct sip_slice s, const char *lit)
{
	struct sip_slice l = { lit, (uint32_t)strlen(lit) };
	return sip_slice_eq_nocase(s, l);
}

/* Decimal digits only (no sign, no space). Returns false on an empty
 * slice, a non-digit, or a value above UINT32_MAX; *out is then untouched. */
bool sip_slice_to_u32(struct sip_slice s, uint32_t *out);

/* Parses an IPv4 dotted quad (four decimal octets, 0-255, no leading
 * zeros: what inet_pton(AF_INET) accepts) into out, network order.
 * Returns false, leaving out untouched, for anything else (host names,
 * an empty or absent slice). Here rather than inet_pton because contact
 * hosts are slices, not strings: the copy to a string and the call cost
 * ~750 instructions a REGISTER (callgrind, perf/bench-pipeline). */
bool sip_ipv4_parse(struct sip_slice s, uint8_t out[4]);

/* Maps a method token (case-sensitive, RFC 3261 §7.1) to the enum;
 * SIP_METHOD_OTHER for any other token. */
enum sip_method sip_method_from_slice(struct sip_slice s);

#ifdef __cplusplus
}
#endif
#endif /* SIPREG_SIP_PARSER_H */
