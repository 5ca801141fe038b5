/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: a QMP reply to qom-list, as the QMP backend's VFIO
 * probe reads it (qmp_vfio_in_qom_list). The verdict must be one of its
 * three, whatever QEMU (or something posing as it) sent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "qmp_vfio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *reply, *ret = NULL;
	int r;

	if (!tok)
		return 0;
	reply = json_tokener_parse_ex(tok, (const char *)data, (int)(size > 65536 ? 65536 : size));
	if (reply && !json_object_object_get_ex(reply, "return", &ret))
		ret = reply;
	r = qmp_vfio_in_qom_list(ret);
	if (r != 0 && r != 1 && r != -22)
		abort();
	json_object_put(reply);
	json_tokener_free(tok);
	return 0;
}
