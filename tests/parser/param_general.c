/* The parameter scanner of sip_lex.h with its general rules only (no
 * fast path), the reference for test_param_fast.c. */
#define SIP_LEX_GENERAL_PARAMS 1
#include "param_general.h"

#include "sip_lex.h"

bool general_param_next(const char **pp, const char *end, const char *lim, struct sip_slice *name,
			struct sip_slice *value, uint8_t value_cls)
{
	return sip_param_next_cls_lim(pp, end, lim, name, value, value_cls);
}
