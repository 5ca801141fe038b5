/* SPDX-License-Identifier: MIT */
/* libvirt_xml.c: reading a domain's live XML, and the resize element. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libvirt_xml.h"

#define MIB (1024ULL * 1024ULL)

/* What libvirt 9.0 printed for the lab domain (trimmed). */
static const char good_head[] =
	"<domain type='qemu' id='1'>\n"
	"  <name>g1</name>\n"
	"  <memory unit='KiB'>1310720</memory>\n"
	"  <currentMemory unit='KiB'>1310720</currentMemory>\n"
	"  <devices>\n"
	"    <channel type='unix'>\n"
	"      <source mode='bind' path='/tmp/lab/g1.lab'/>\n"
	"      <target type='virtio' name='org.ramm.lab.0' state='connected'/>\n"
	"      <alias name='channel1'/>\n"
	"    </channel>\n"
	"    <channel type='unix'>\n"
	"      <source mode='bind' path='/tmp/lab/g1.agent'/>\n"
	"      <target type='virtio' name='org.ramm.agent.0' state='connected'/>\n"
	"      <alias name='channel0'/>\n"
	"    </channel>\n";
static const char good_vmem[] =
	"    <memory model='virtio-mem'>\n"
	"      <target>\n"
	"        <size unit='KiB'>1048576</size>\n"
	"        <node>0</node>\n"
	"        <block unit='KiB'>2048</block>\n"
	"        <requested unit='KiB'>262144</requested>\n"
	"        <current unit='KiB'>131072</current>\n"
	"      </target>\n"
	"      <alias name='virtiomem0'/>\n"
	"      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n"
	"    </memory>\n";
static const char good_tail[] = "  </devices>\n</domain>\n";

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

static int parse(const char *xml, struct lv_domain_info *info)
{
	return lv_xml_parse_domain(xml, strlen(xml), info);
}

static void test_good_domain(void **state)
{
	char *xml = join(good_head, good_vmem, good_tail);
	struct lv_domain_info info;

	(void)state;
	assert_int_equal(parse(xml, &info), 0);
	assert_string_equal(info.name, "g1");
	assert_string_equal(info.alias, "virtiomem0");
	assert_string_equal(info.agent_path, "/tmp/lab/g1.agent");
	assert_int_equal(info.boot_bytes, 256 * MIB);
	assert_int_equal(info.max_bytes, 1024 * MIB);
	assert_int_equal(info.block_bytes, 2 * MIB);
	assert_int_equal(info.requested_bytes, 256 * MIB);
	assert_int_equal(info.size_bytes, 128 * MIB);
	free(xml);
}

/* A second virtio-mem device (not addressable here): its max is in
 * <memory>, only what it has plugged counts as the guest's other memory. */
static void test_two_devices(void **state)
{
	static const char head[] =
		"<domain><name>g1</name><memory unit='MiB'>1792</memory><devices>"
		"<memory model='virtio-mem'><target><size unit='MiB'>512</size>"
		"<block unit='MiB'>2</block><requested unit='MiB'>64</requested>"
		"<current unit='MiB'>64</current></target></memory>"
		"<channel type='unix'><source mode='bind' path='/a'/>"
		"<target type='virtio' name='org.ramm.agent.0'/></channel>";
	struct lv_domain_info info;
	char *xml = join(head, good_vmem, good_tail);

	(void)state;
	assert_int_equal(parse(xml, &info), 0);
	assert_string_equal(info.alias, "virtiomem0");
	assert_int_equal(info.max_bytes, 1024 * MIB);
	assert_int_equal(info.boot_bytes, (256 + 64) * MIB);
	free(xml);
}

static void test_not_a_ramm_guest(void **state)
{
	struct lv_domain_info info;
	char *xml = join(good_head, "", good_tail);

	(void)state;
	/* no virtio-mem device */
	assert_int_equal(parse(xml, &info), -ENODEV);
	free(xml);
	/* no agent channel */
	xml = join("<domain><name>x</name><memory>1310720</memory><devices>",
		   good_vmem, good_tail);
	assert_int_equal(parse(xml, &info), -ENODEV);
	free(xml);
}

static void test_malformed(void **state)
{
	static const char *const bad_vmem[] = {
		/* block not a power of two */
		"<memory model='virtio-mem'><target><size unit='KiB'>1048576</size>"
		"<block unit='KiB'>3000</block><requested unit='KiB'>0</requested>"
		"</target><alias name='m'/></memory>",
		/* plugged above max */
		"<memory model='virtio-mem'><target><size unit='KiB'>1024</size>"
		"<block unit='KiB'>2048</block><requested unit='KiB'>0</requested>"
		"<current unit='KiB'>4096</current></target><alias name='m'/></memory>",
		/* unknown unit */
		"<memory model='virtio-mem'><target><size unit='parsec'>1</size>"
		"<block unit='KiB'>2048</block><requested unit='KiB'>0</requested>"
		"</target><alias name='m'/></memory>",
		/* overflow */
		"<memory model='virtio-mem'><target><size unit='TiB'>99999999999</size>"
		"<block unit='KiB'>2048</block><requested unit='KiB'>0</requested>"
		"</target><alias name='m'/></memory>",
		/* not a number */
		"<memory model='virtio-mem'><target><size unit='KiB'>-5</size>"
		"<block unit='KiB'>2048</block><requested unit='KiB'>0</requested>"
		"</target><alias name='m'/></memory>",
		/* no <requested> */
		"<memory model='virtio-mem'><target><size unit='KiB'>1024</size>"
		"<block unit='KiB'>2048</block></target><alias name='m'/></memory>",
	};
	struct lv_domain_info info;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_vmem) / sizeof(bad_vmem[0]); i++) {
		char *xml = join(good_head, bad_vmem[i], good_tail);

		assert_int_equal(parse(xml, &info), -EINVAL);
		free(xml);
	}
	assert_int_equal(parse("<domain><name>g1", &info), -EINVAL);
	assert_int_equal(parse("not xml at all", &info), -EINVAL);
	assert_int_equal(lv_xml_parse_domain("", 0, &info), -EINVAL);
	assert_int_equal(parse("<other/>", &info), -EINVAL);
	/* A DOCTYPE (entity declarations) is refused outright. */
	assert_int_equal(parse("<!DOCTYPE d [<!ENTITY a 'aaaa'>]><domain><name>&a;</name></domain>",
			       &info), -EINVAL);
}

static void test_bad_channel(void **state)
{
	static const char head[] =
		"<domain><name>g1</name><memory unit='KiB'>1310720</memory><devices>"
		"<channel type='unix'><source mode='bind' path='relative/path'/>"
		"<target type='virtio' name='org.ramm.agent.0'/></channel>";
	struct lv_domain_info info;
	char *xml = join(head, good_vmem, good_tail);

	(void)state;
	assert_int_equal(parse(xml, &info), -EINVAL);
	free(xml);
}

static void test_long_name(void **state)
{
	char name[CONFIG_MAX_NAME + 10];
	char head[1024];
	struct lv_domain_info info;
	char *xml;

	(void)state;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(head, sizeof(head), "<domain><name>%s</name>%s", name,
		 strstr(good_head, "<memory"));
	xml = join(head, good_vmem, good_tail);
	assert_int_equal(parse(xml, &info), -EINVAL);
	free(xml);
}

static void test_resize_element(void **state)
{
	char *xml = join(good_head, good_vmem, good_tail);
	char *out = NULL;

	(void)state;
	assert_int_equal(lv_xml_resize_device(xml, strlen(xml), "virtiomem0",
					      640 * MIB, &out), 0);
	assert_non_null(out);
	assert_non_null(strstr(out, "<memory model=\"virtio-mem\">"));
	assert_non_null(strstr(out, "<requested unit=\"KiB\">655360</requested>"));
	assert_non_null(strstr(out, "<alias name=\"virtiomem0\"/>"));
	assert_non_null(strstr(out, "<block unit=\"KiB\">2048</block>"));
	assert_null(strstr(out, "<current"));
	free(out);
	out = NULL;
	assert_int_equal(lv_xml_resize_device(xml, strlen(xml), "nosuch",
					      640 * MIB, &out), -ENODEV);
	assert_null(out);
	assert_int_equal(lv_xml_resize_device("<domain", 7, "virtiomem0",
					      640 * MIB, &out), -EINVAL);
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_domain),
		cmocka_unit_test(test_two_devices),
		cmocka_unit_test(test_not_a_ramm_guest),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_channel),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_resize_element),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
