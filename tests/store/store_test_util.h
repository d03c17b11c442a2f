/*
 * store_test_util.h - building REGISTERs for the store tests, like a phone
 * would send them.  Header-only; each test program includes it once.
 */
#ifndef SIPREG_TESTS_STORE_UTIL_H
#define SIPREG_TESTS_STORE_UTIL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "binding_table.h"

#define T0 1700000000     /* test clock start, Unix seconds */

static inline struct store_slice
S(const char *s)
{
	return (struct store_slice){ s, s ? (uint32_t)strlen(s) : 0 };
}

struct test_register {
	struct registration_request req;
	struct registration_contact contacts[STORE_MAX_BINDINGS_PER_AOR + 2];
};

/* REGISTER aor, Call-ID call_id, CSeq cseq, no contacts yet, from 198.18.0.1:5060. */
static inline void
reg_init(struct test_register *r, const char *aor, const char *call_id, uint32_t cseq,
	 int64_t now_s)
{
	memset(r, 0, sizeof(*r));
	r->req.aor = S(aor);
	r->req.call_id = S(call_id);
	r->req.cseq = cseq;
	r->req.contacts = r->contacts;
	r->req.source.family = AF_INET;
	r->req.source.port = 5060;
	inet_pton(AF_INET, "198.18.0.1", r->req.source.addr);
	r->req.transport = STORE_TRANSPORT_UDP;
	r->req.user_agent = S("test-phone/1.0");
	r->req.account = S("acme");
	r->req.now_s = now_s;
}

/* Add Contact: <uri>[;expires=e] (expires < 0: no param). */
static inline struct registration_contact *
reg_contact(struct test_register *r, const char *uri, int expires)
{
	struct registration_contact *c = &r->contacts[r->req.n_contacts++];

	c->uri = S(uri);
	if (expires >= 0) {
		c->has_expires = true;
		c->expires_s = (uint32_t)expires;
	}
	return c;
}

static inline void
reg_expires_header(struct test_register *r, uint32_t e)
{
	r->req.has_expires_header = true;
	r->req.expires_header_s = e;
}

/* Number of events of type in res. */
static inline int
count_events(const struct registration_result *res, enum store_event_type type)
{
	int n = 0;

	for (uint32_t i = 0; i < res->n_events; i++)
		n += res->events[i] == type;
	return n;
}

static inline uint32_t
aor_binding_count(const struct binding_table *t, const char *aor)
{
	uint32_t n = 0;

	for (uint32_t s = binding_table_find_aor(t, S(aor)); s != STORE_NO_BINDING;
	     s = binding_table_next_of_aor(t, s))
		n++;
	return n;
}

/* Binding of aor whose contact URI is uri, or NULL. */
static inline const struct store_binding_data *
find_contact(const struct binding_table *t, const char *aor, const char *uri)
{
	for (uint32_t s = binding_table_find_aor(t, S(aor)); s != STORE_NO_BINDING;
	     s = binding_table_next_of_aor(t, s)) {
		const struct store_binding_data *b = binding_table_get(t, s);
		size_t len;
		const char *c = store_binding_string(b, STORE_STR_CONTACT, &len);

		if (len == strlen(uri) && memcmp(c, uri, len) == 0)
			return b;
	}
	return NULL;
}

/* mkdtemp under /tmp; caller frees with rm_rf. */
static inline char *
make_state_dir(const char *tag)
{
	char tmpl[256];

	snprintf(tmpl, sizeof(tmpl), "/tmp/sipreg-%s-XXXXXX", tag);
	if (mkdtemp(tmpl) == NULL)
		return NULL;
	return strdup(tmpl);
}

static inline void
rm_rf(char *dir)
{
	char cmd[512];

	if (dir == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(dir);
}

#endif
