/*
 * fuzz_admin_request - libFuzzer target for sipreg-control's admin request
 * parser: admin_request_parse() on any bytes, then the validation of every
 * command's fields (filters, history ranges, accounts, policy) with the
 * parsed request, the IP filter parser on the raw bytes, and the encoders
 * with an oracle: outbuf_json_string() of any bytes must be a JSON string
 * jansson reads back, and a CSV field must be quoted exactly when needed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin.h"
#include "outbuf.h"
#include "query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *cmd;
	char err[512];
	json_t *req;

	if (size > ADMIN_MAX_LINE)
		return 0;
	req = admin_request_parse((const char *)data, size, &cmd, err, sizeof(err));
	if (req) {
		/* every validator on every request, not only its own command */
		static const char *const cmds[] = { "list", "export", "history", "show", "kick",
						    "account_add", "policy_set" };
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			admin_request_validate(req, cmds[i], "sipreg.test", err, sizeof(err));
		json_decref(req);
	} else if (err[0] == '\0') {
		abort();   /* a refusal always says why */
	}

	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct store_cidr c;
	query_ip_filter_parse(s, &c);
	free(s);

	struct outbuf o = { 0 };
	json_error_t jerr;
	outbuf_json_string(&o, (const char *)data, size);
	json_t *v = json_loadb(o.data, o.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!json_is_string(v))
		abort();
	json_decref(v);
	outbuf_reset(&o);
	outbuf_csv_field(&o, (const char *)data, size);
	bool special = size && (data[0] == ' ' || data[size - 1] == ' ');
	for (size_t i = 0; i < size; i++)
		special |= data[i] == ',' || data[i] == '"' || data[i] == '\r' || data[i] == '\n';
	if (special != (o.len > 0 && o.data[0] == '"' && o.len >= size + 2))
		abort();
	outbuf_free(&o);
	return 0;
}
