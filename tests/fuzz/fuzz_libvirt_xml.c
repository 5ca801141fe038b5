/* SPDX-License-Identifier: MIT */
/* libFuzzer harness: a libvirt domain's live XML, as the libvirt backend
 * reads it (lv_xml_parse_domain) and rewrites it for a resize
 * (lv_xml_resize_device). Whatever comes back must be within bounds. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libvirt_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lv_domain_info info;
	char *out = NULL;
	int ret = lv_xml_parse_domain((const char *)data, size, &info);

	if (ret == 0) {
		if (!info.block_bytes || info.size_bytes > info.max_bytes ||
		    info.requested_bytes > info.max_bytes ||
		    !info.boot_bytes ||
		    !info.alias[0] || info.agent_path[0] != '/' ||
		    strlen(info.name) >= sizeof(info.name) ||
		    (info.vfio != 0 && info.vfio != 1))
			abort();
		ret = lv_xml_resize_device((const char *)data, size, info.alias,
					   info.block_bytes, &out);
		if (ret == 0 && (!out || !strstr(out, "requested")))
			abort();
		free(out);
		return 0;
	}
	if (ret != -EINVAL && ret != -ENODEV)
		abort();
	return 0;
}
