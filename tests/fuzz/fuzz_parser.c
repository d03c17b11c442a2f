/*
 * libFuzzer target: parser/sip_parser.h alone. Beyond ASan/UBSan, checks
 * that every slice of an accepted message lies inside the input and that
 * the helper functions hold up on whatever the parser produced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip_parser.h"

static const char *lo, *hi;

static void in_input(struct sip_slice s)
{
	if (s.ptr == NULL) {
		if (s.len != 0)
			abort();
		return;
	}
	if (s.ptr < lo || s.ptr > hi || s.len > (size_t)(hi - s.ptr))
		abort();
}

static void params(struct sip_slice p)
{
	struct sip_slice name, value, rest = p;
	in_input(p);
	while (sip_param_next(&rest, &name, &value)) {
		in_input(name);
		in_input(value);
		in_input(rest);
	}
}

static void uri(const struct sip_uri *u)
{
	in_input(u->raw);
	in_input(u->scheme_raw);
	in_input(u->user);
	in_input(u->password);
	in_input(u->host);
	in_input(u->params);
	in_input(u->headers);
	in_input(u->transport);
	params(u->params);
	/* re-parsing the raw URI must give the same answer */
	if (u->raw.ptr != NULL && u->scheme != SIP_SCHEME_NONE) {
		struct sip_uri again;
		if (!sip_uri_parse(u->raw, &again) || again.host.ptr != u->host.ptr || again.port != u->port)
			abort();
	}
}

static void name_addr(const struct sip_name_addr *na)
{
	in_input(na->display);
	uri(&na->uri);
	params(na->params);
}

static void credentials(const struct sip_credentials *c)
{
	const struct sip_slice *s[] = { &c->scheme, &c->params, &c->username, &c->realm, &c->nonce, &c->uri,
					&c->response, &c->algorithm, &c->qop, &c->nc, &c->cnonce, &c->opaque };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		in_input(*s[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	lo = (const char *)data;
	hi = lo + size;
	enum sip_parse_status st = sip_parse((const char *)data, size, &m);
	if (sip_parse_status_reason(st) == NULL || strcmp(sip_parse_status_name(st), "SIP_PARSE_?") == 0)
		abort();
	if (st != SIP_PARSE_OK)
		return 0;
	in_input(m.method_raw);
	in_input(m.reason);
	in_input(m.version);
	if (m.is_request)
		uri(&m.request_uri);
	name_addr(&m.from.addr);
	in_input(m.from.tag);
	name_addr(&m.to.addr);
	in_input(m.to.tag);
	in_input(m.call_id);
	in_input(m.cseq_method_raw);
	in_input(m.user_agent);
	in_input(m.body);
	if (m.via_count == 0 || m.via_count > SIP_MAX_VIAS || m.contact_count > SIP_MAX_CONTACTS ||
	    m.other_count > SIP_MAX_OTHER_HEADERS || (m.contact_star && m.contact_count != 0))
		abort();
	for (int i = 0; i < m.via_count; i++) {
		const struct sip_via *v = &m.via[i];
		in_input(v->protocol);
		in_input(v->version);
		in_input(v->transport);
		in_input(v->host);
		in_input(v->branch);
		in_input(v->received);
		params(v->params);
	}
	for (int i = 0; i < m.contact_count; i++) {
		name_addr(&m.contact[i].addr);
		in_input(m.contact[i].q);
		in_input(m.contact[i].instance);
		if (m.contact[i].q_milli > 1000)
			abort();
	}
	for (int i = 0; i < m.authorization_count; i++)
		credentials(&m.authorization[i]);
	for (int i = 0; i < m.proxy_authorization_count; i++)
		credentials(&m.proxy_authorization[i]);
	for (int i = 0; i < m.path_count; i++)
		in_input(m.path[i]);
	for (int i = 0; i < m.supported_count; i++)
		in_input(m.supported[i]);
	for (int i = 0; i < m.require_count; i++)
		in_input(m.require[i]);
	for (int i = 0; i < m.other_count; i++) {
		in_input(m.other[i].name);
		in_input(m.other[i].value);
	}
	uint32_t n;
	(void)sip_slice_to_u32(m.call_id, &n);
	(void)sip_slice_eq_nocase(m.from.addr.uri.host, m.to.addr.uri.host);
	return 0;
}
