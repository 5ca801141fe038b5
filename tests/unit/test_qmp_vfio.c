/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the QMP backend's VFIO probe (broker/backends/qmp_vfio.c)
 * on qom-list replies. The ordinary ones were recorded from QEMU 7.2
 * (Debian 12) with a virtio-mem, a virtio-net and an anonymous e1000e
 * device. Nothing here has a VFIO device (no /dev/vfio, no IOMMU group to
 * assign), so the VFIO replies are those replies with a vfio-pci child in
 * the shape QEMU lists any device ("child<TYPE>", the type names of
 * `qemu-system-x86_64 -device help`).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "qmp_vfio.h"

/* The verdict on the "return" member of the reply @text. */
static int verdict(const char *text)
{
	struct json_object *reply = json_tokener_parse(text), *ret = NULL;
	int r;

	assert_non_null(reply);
	if (!json_object_object_get_ex(reply, "return", &ret))
		ret = NULL;
	r = qmp_vfio_in_qom_list(ret);
	json_object_put(reply);
	return r;
}

/* Recorded: qom-list /machine/peripheral and /machine/peripheral-anon. */
static void test_recorded_without_vfio(void **state)
{
	(void)state;
	assert_int_equal(verdict("{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, "
				 "{\"name\": \"vm0\", \"type\": \"child<virtio-mem-pci>\"}, "
				 "{\"name\": \"net0\", \"type\": \"child<virtio-net-pci>\"}]}"), 0);
	assert_int_equal(verdict("{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, "
				 "{\"name\": \"device[0]\", \"type\": \"child<e1000e>\"}]}"), 0);
	assert_int_equal(verdict("{\"return\": []}"), 0);
}

/* A libvirt <hostdev> (id hostdev0), a Proxmox hostpci (hostpci0), an
 * anonymous one, and the no-hotplug variant. */
static void test_vfio_listed(void **state)
{
	(void)state;
	assert_int_equal(verdict("{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, "
				 "{\"name\": \"vm0\", \"type\": \"child<virtio-mem-pci>\"}, "
				 "{\"name\": \"hostdev0\", \"type\": \"child<vfio-pci>\"}]}"), 1);
	assert_int_equal(verdict("{\"return\": [{\"name\": \"hostpci0\", "
				 "\"type\": \"child<vfio-pci>\", \"description\": \"x\"}]}"), 1);
	assert_int_equal(verdict("{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, "
				 "{\"name\": \"device[3]\", \"type\": \"child<vfio-pci-nohotplug>\"}]}"), 1);
	/* A link is not a device of this guest, nor is a bare name. */
	assert_int_equal(verdict("{\"return\": [{\"name\": \"x\", \"type\": \"link<vfio-pci>\"}, "
				 "{\"name\": \"vfio-pci\", \"type\": \"string\"}, "
				 "{\"name\": \"y\", \"type\": \"child<vfio-\"}]}"), 0);
}

/* Anything else is refused, bounded: the caller takes it as VFIO. */
static void test_malformed(void **state)
{
	char *big;
	size_t n = QMP_VFIO_MAX_ENTRIES + 1, len = 16 + n * 32;

	(void)state;
	assert_int_equal(qmp_vfio_in_qom_list(NULL), -EINVAL);
	assert_int_equal(verdict("{\"return\": {}}"), -EINVAL);
	assert_int_equal(verdict("{\"return\": \"child<vfio-pci>\"}"), -EINVAL);
	assert_int_equal(verdict("{\"return\": [1]}"), -EINVAL);
	assert_int_equal(verdict("{\"return\": [{\"name\": \"a\"}]}"), -EINVAL);
	assert_int_equal(verdict("{\"return\": [{\"name\": \"a\", \"type\": 7}]}"), -EINVAL);
	assert_int_equal(verdict("{\"error\": {\"class\": \"DeviceNotFound\", "
				 "\"desc\": \"Device '/machine/peripheral-anon' not found\"}}"),
			 -EINVAL);
	/* A type longer than any QOM type name. */
	big = malloc(len + QMP_VFIO_MAX_TYPE);
	assert_non_null(big);
	strcpy(big, "{\"return\": [{\"name\": \"a\", \"type\": \"child<vfio-");
	memset(big + strlen(big), 'x', QMP_VFIO_MAX_TYPE);
	strcpy(big + strlen(big), ">\"}]}");
	assert_int_equal(verdict(big), -EINVAL);
	/* Too many entries, VFIO among them or not. */
	strcpy(big, "{\"return\": [");
	for (size_t i = 0; i < n; i++)
		strcat(big, i ? ",{\"name\":\"a\",\"type\":\"s\"}" : "{\"name\":\"a\",\"type\":\"s\"}");
	strcat(big, "]}");
	assert_int_equal(verdict(big), -EINVAL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_without_vfio),
		cmocka_unit_test(test_vfio_listed),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
