/* param_general.h — sip_lex.h's parameter scanner compiled without its
 * fast path (SIP_LEX_GENERAL_PARAMS), for test_param_fast.c. */
#ifndef PARAM_GENERAL_H
#define PARAM_GENERAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sip_parser.h"

/* sip_param_next_cls_lim by the general rules only; same contract. */
bool general_param_next(const char **pp, const char *end, const char *lim, struct sip_slice *name,
			struct sip_slice *value, uint8_t value_cls);

#endif
