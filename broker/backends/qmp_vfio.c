/* SPDX-License-Identifier: MIT */
/* A VFIO device in a qom-list reply (qmp_vfio.h). */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_vfio.h"

#define QMP_VFIO_PREFIX "child<vfio-"

int qmp_vfio_in_qom_list(struct json_object *ret)
{
	size_t n;
	int found = 0;

	if (!ret || !json_object_is_type(ret, json_type_array))
		return -EINVAL;
	n = json_object_array_length(ret);
	if (n > QMP_VFIO_MAX_ENTRIES)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(ret, i), *type;
		const char *s;
		int len;

		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "type", &type) ||
		    !json_object_is_type(type, json_type_string))
			return -EINVAL;
		len = json_object_get_string_len(type);
		if (len > QMP_VFIO_MAX_TYPE)
			return -EINVAL;
		s = json_object_get_string(type);
		/* A NUL inside the string would hide the rest: strncmp stops
		 * there, so such a type never matches. */
		if ((size_t)len > strlen(QMP_VFIO_PREFIX) &&
		    !strncmp(s, QMP_VFIO_PREFIX, strlen(QMP_VFIO_PREFIX)))
			found = 1;
	}
	return found;
}
