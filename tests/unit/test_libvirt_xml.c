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
	/* no <source>, <memoryBacking> or <numatune>: ordinary memory */
	assert_int_equal(info.page_bytes, 0);
	assert_int_equal(info.hugepages_default, 0);
	assert_int_equal(info.host_nodes, 0);
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

/* ---- the device's backing ------------------------------------------ */

#define GIB (1024ULL * MIB)

/*
 * Parse a domain with @extra at the top level (<memoryBacking>,
 * <numatune>) whose virtio-mem device has @source (a <source> element or
 * "") and @node (a <node> element or "").
 */
static int parse_backing(const char *extra, const char *source,
			 const char *node, struct lv_domain_info *info)
{
	char *xml;
	int ret;

	assert_true(asprintf(&xml,
		"<domain><name>g1</name><memory unit='KiB'>1310720</memory>%s"
		"<devices><channel type='unix'><source mode='bind' path='/a'/>"
		"<target type='virtio' name='org.ramm.agent.0'/></channel>"
		"<memory model='virtio-mem'>%s<target>"
		"<size unit='KiB'>1048576</size>%s<block unit='KiB'>2048</block>"
		"<requested unit='KiB'>0</requested></target>"
		"<alias name='virtiomem0'/></memory></devices></domain>",
		extra, source, node) > 0);
	ret = parse(xml, info);
	free(xml);
	return ret;
}

#define NODE0 "<node>0</node>"

/* Backing that must parse to @page bytes (@dflt: host default) on @nodes;
 * a failure names the caller's @line. */
static void expect_backing_at(const char *extra, const char *source,
			      const char *node, uint64_t page, int dflt,
			      uint64_t nodes, int line)
{
	struct lv_domain_info info;

	_assert_int_equal(parse_backing(extra, source, node, &info), 0,
			  __FILE__, line);
	_assert_int_equal(info.page_bytes, page, __FILE__, line);
	_assert_int_equal(info.hugepages_default, dflt, __FILE__, line);
	_assert_int_equal(info.host_nodes, nodes, __FILE__, line);
}

static void expect_einval_at(const char *extra, const char *source,
			     const char *node, int line)
{
	struct lv_domain_info info;

	_assert_int_equal(parse_backing(extra, source, node, &info),
			  (uintmax_t)-EINVAL, __FILE__, line);
}

#define expect_backing(extra, source, node, page, dflt, nodes) \
	expect_backing_at(extra, source, node, page, dflt, nodes, __LINE__)
#define expect_einval(extra, source, node) \
	expect_einval_at(extra, source, node, __LINE__)

/* <source><pagesize>/<nodemask> win over <memoryBacking> and <numatune>. */
static void test_device_source(void **state)
{
	static const char mb_numa[] =
		"<memoryBacking><hugepages><page size='1' unit='G'/></hugepages>"
		"</memoryBacking><numatune><memory mode='strict' nodeset='2'/>"
		"<memnode cellid='0' mode='strict' nodeset='3'/></numatune>";

	(void)state;
	/* libvirt's own example (formatdomain, memory devices) */
	expect_backing("", "<source><nodemask>1-3</nodemask>"
		       "<pagesize unit='KiB'>2048</pagesize></source>", NODE0,
		       2 * MIB, 0, 0xe);
	expect_backing(mb_numa, "<source><pagesize unit='KiB'>2048</pagesize>"
		       "<nodemask>0-1</nodemask></source>", NODE0,
		       2 * MIB, 0, 0x3);
	/* only a nodemask: the page size comes from <memoryBacking> */
	expect_backing(mb_numa, "<source><nodemask>5</nodemask></source>",
		       NODE0, GIB, 0, 0x20);
	/* only a pagesize: the nodes come from <numatune>'s memnode */
	expect_backing(mb_numa, "<source><pagesize>2048</pagesize></source>",
		       NODE0, 2 * MIB, 0, 0x8);
	/* an empty <source/> changes nothing */
	expect_backing("", "<source/>", NODE0, 0, 0, 0);
	/* a device pagesize beats an empty <hugepages/> too */
	expect_backing("<memoryBacking><hugepages/></memoryBacking>",
		       "<source><pagesize unit='G'>1</pagesize></source>", NODE0,
		       GIB, 0, 0);
}

/* <memoryBacking><hugepages><page>: nodeset match, else no nodeset. */
static void test_memorybacking_pages(void **state)
{
	/* the formatdomain example: 1 GiB on every node but 4, 2 MiB on 4 */
	static const char example[] =
		"<memoryBacking><hugepages>"
		"<page size='1' unit='G' nodeset='0-3,5'/>"
		"<page size='2' unit='M' nodeset='4'/>"
		"</hugepages><nosharepages/><locked/></memoryBacking>";
	/* a catch-all before a node-specific page */
	static const char mixed[] =
		"<memoryBacking><hugepages>"
		"<page size='2048' unit='KiB'/>"
		"<page size='1' unit='GiB' nodeset='0'/>"
		"</hugepages></memoryBacking>";

	(void)state;
	expect_backing("<memoryBacking><hugepages><page size='1' unit='G' "
		       "nodeset='0'/></hugepages></memoryBacking>", "", NODE0,
		       GIB, 0, 0);
	/* no nodeset: applies to every node; no unit: KiB */
	expect_backing("<memoryBacking><hugepages><page size='2048'/>"
		       "</hugepages></memoryBacking>", "", NODE0, 2 * MIB, 0, 0);
	expect_backing(example, "", NODE0, GIB, 0, 0);
	expect_backing(example, "", "<node>4</node>", 2 * MIB, 0, 0);
	expect_backing(example, "", "<node>5</node>", GIB, 0, 0);
	/* node 6 is in no nodeset and there is no catch-all: ordinary */
	expect_backing(example, "", "<node>6</node>", 0, 0, 0);
	/* the nodeset doesn't hold the device's node */
	expect_backing("<memoryBacking><hugepages><page size='1' unit='G' "
		       "nodeset='1-3'/></hugepages></memoryBacking>", "", NODE0,
		       0, 0, 0);
	expect_backing(mixed, "", NODE0, GIB, 0, 0);
	expect_backing(mixed, "", "<node>1</node>", 2 * MIB, 0, 0);
	/* a device without <node>: only pages without a nodeset apply */
	expect_backing(mixed, "", "", 2 * MIB, 0, 0);
	expect_backing(example, "", "", 0, 0, 0);
	/* <memoryBacking> without <hugepages>: ordinary memory */
	expect_backing("<memoryBacking><source type='memfd'/>"
		       "<access mode='shared'/></memoryBacking>", "", NODE0,
		       0, 0, 0);
}

/* An empty <hugepages/>: hugetlbfs with the host's default size. */
static void test_hugepages_default(void **state)
{
	(void)state;
	expect_backing("<memoryBacking><hugepages/></memoryBacking>", "", NODE0,
		       0, 1, 0);
	expect_backing("<memoryBacking><hugepages></hugepages></memoryBacking>",
		       "", "", 0, 1, 0);
	expect_backing("<memoryBacking><hugepages/></memoryBacking>"
		       "<numatune><memory nodeset='1'/></numatune>", "", NODE0,
		       0, 1, 0x2);
}

/* Page sizes in every unit libvirt knows. */
static void test_page_units(void **state)
{
	static const struct {
		const char *size, *unit;
		uint64_t bytes;
	} ok[] = {
		{ "4", "k", 4096 },
		{ "4", "KiB", 4096 },
		{ "65536", "b", 64 << 10 },
		{ "65536", "bytes", 64 << 10 },
		{ "2", "M", 2 * MIB },
		{ "2", "MiB", 2 * MIB },
		{ "1", "G", GIB },
		{ "1", "GiB", GIB },
		{ "16", "GiB", 16 * GIB },
		{ "16777216", "KiB", 16 * GIB },
	};
	static const struct {
		const char *size, *unit;
	} bad[] = {
		{ "2000", "KB" },   /* 2,000,000 bytes: not a power of two */
		{ "2", "MB" },
		{ "1", "GB" },
		{ "1", "TB" },
		{ "1", "T" },       /* 1 TiB: too large */
		{ "1", "TiB" },
		{ "2", "parsec" },
		{ "2", "" },
		{ "2", "m" },       /* units are case-sensitive */
	};
	char extra[256], source[256];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(extra, sizeof(extra), "<memoryBacking><hugepages><page "
			 "size='%s' unit='%s'/></hugepages></memoryBacking>",
			 ok[i].size, ok[i].unit);
		expect_backing(extra, "", NODE0, ok[i].bytes, 0, 0);
		snprintf(source, sizeof(source), "<source><pagesize unit='%s'>%s"
			 "</pagesize></source>", ok[i].unit, ok[i].size);
		expect_backing("", source, NODE0, ok[i].bytes, 0, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(extra, sizeof(extra), "<memoryBacking><hugepages><page "
			 "size='%s' unit='%s'/></hugepages></memoryBacking>",
			 bad[i].size, bad[i].unit);
		expect_einval(extra, "", NODE0);
		snprintf(source, sizeof(source), "<source><pagesize unit='%s'>%s"
			 "</pagesize></source>", bad[i].unit, bad[i].size);
		expect_einval("", source, NODE0);
	}
}

/* Page sizes that are no page size: -EINVAL, applicable or not. */
static void test_bad_page_sizes(void **state)
{
	static const char *const sizes[] = {
		"3000",                 /* KiB, not a power of two */
		"0",
		"33554432",             /* 32 GiB: above 16 GiB */
		"2",                    /* 2 KiB: below 4 KiB */
		"x", "", "-2048", "2048x", " 2048", "0x800", "2048.0",
		"99999999999999999999999",
	};
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(buf, sizeof(buf), "<source><pagesize unit='KiB'>%s"
			 "</pagesize></source>", sizes[i]);
		expect_einval("", buf, NODE0);
		snprintf(buf, sizeof(buf), "<memoryBacking><hugepages><page "
			 "size='%s'/></hugepages></memoryBacking>", sizes[i]);
		expect_einval(buf, "", NODE0);
		/* a page for another node is checked all the same */
		snprintf(buf, sizeof(buf), "<memoryBacking><hugepages>"
			 "<page size='2048' nodeset='0'/><page size='%s' "
			 "nodeset='1'/></hugepages></memoryBacking>", sizes[i]);
		expect_einval(buf, "", NODE0);
	}
	/* a <page> without size */
	expect_einval("<memoryBacking><hugepages><page unit='G'/></hugepages>"
		      "</memoryBacking>", "", NODE0);
	/* 32 GiB in GiB */
	expect_einval("", "<source><pagesize unit='G'>32</pagesize></source>",
		      NODE0);
}

/* <numatune>: memnode for the device's node over memory; the modes. */
static void test_numatune(void **state)
{
	(void)state;
	/* the formatdomain example: "1-4,^3" is 1, 2 and 4 */
	expect_backing("<numatune><memory mode='strict' nodeset='1-4,^3'/>"
		       "<memnode cellid='0' mode='strict' nodeset='1'/>"
		       "<memnode cellid='2' mode='preferred' nodeset='2'/>"
		       "</numatune>", "", NODE0, 0, 0, 0x2);
	expect_backing("<numatune><memory mode='strict' nodeset='1-4,^3'/>"
		       "<memnode cellid='0' mode='strict' nodeset='1'/>"
		       "<memnode cellid='2' mode='preferred' nodeset='2'/>"
		       "</numatune>", "", "<node>1</node>", 0, 0, 0x16);
	/* memnode preferred: may fall back anywhere, whatever <memory> says */
	expect_backing("<numatune><memory mode='strict' nodeset='1-4,^3'/>"
		       "<memnode cellid='2' mode='preferred' nodeset='2'/>"
		       "</numatune>", "", "<node>2</node>", 0, 0, 0);
	/* the modes of <memory>; strict by default */
	expect_backing("<numatune><memory nodeset='2'/></numatune>", "",
		       NODE0, 0, 0, 0x4);
	expect_backing("<numatune><memory mode='restrictive' nodeset='0-1'/>"
		       "</numatune>", "", NODE0, 0, 0, 0x3);
	expect_backing("<numatune><memory mode='interleave' nodeset='0,2'/>"
		       "</numatune>", "", NODE0, 0, 0, 0x5);
	expect_backing("<numatune><memory mode='preferred' nodeset='1'/>"
		       "</numatune>", "", NODE0, 0, 0, 0);
	/* numad's placement is not in the XML */
	expect_backing("<numatune><memory mode='strict' placement='auto'/>"
		       "</numatune>", "", NODE0, 0, 0, 0);
	expect_backing("<numatune><memory mode='strict' placement='static' "
		       "nodeset='3'/></numatune>", "", NODE0, 0, 0, 0x8);
	expect_backing("<numatune><memory mode='strict'/></numatune>", "",
		       NODE0, 0, 0, 0);
	/* a device without <node> takes <memory> */
	expect_backing("<numatune><memory nodeset='3'/><memnode cellid='0' "
		       "nodeset='1'/></numatune>", "", "", 0, 0, 0x8);
	/* memnode of another cell: <memory>; none: any */
	expect_backing("<numatune><memnode cellid='1' nodeset='1'/>"
		       "<memory nodeset='3'/></numatune>", "", NODE0, 0, 0, 0x8);
	expect_backing("<numatune><memnode cellid='1' nodeset='1'/>"
		       "</numatune>", "", NODE0, 0, 0, 0);
	/* the whole range */
	expect_backing("<numatune><memory nodeset='0-63'/></numatune>", "",
		       NODE0, 0, 0, UINT64_MAX);
	expect_backing("<numatune><memory nodeset='63'/></numatune>", "",
		       NODE0, 0, 0, 1ULL << 63);
	/* with hugepages */
	expect_backing("<memoryBacking><hugepages><page size='1' unit='G' "
		       "nodeset='0'/></hugepages></memoryBacking>"
		       "<numatune><memnode cellid='0' mode='strict' "
		       "nodeset='1'/></numatune>", "", NODE0, GIB, 0, 0x2);

	expect_einval("<numatune><memory mode='bogus' nodeset='1'/>"
		      "</numatune>", "", NODE0);
	expect_einval("<numatune><memory mode='Strict' nodeset='1'/>"
		      "</numatune>", "", NODE0);
	expect_einval("<numatune><memory placement='numad' nodeset='1'/>"
		      "</numatune>", "", NODE0);
	expect_einval("<numatune><memnode cellid='64' nodeset='1'/>"
		      "</numatune>", "", NODE0);
	expect_einval("<numatune><memnode cellid='x' nodeset='1'/>"
		      "</numatune>", "", NODE0);
	expect_einval("<numatune><memnode nodeset='1'/></numatune>", "", NODE0);
	/* a memnode of another cell is checked too */
	expect_einval("<numatune><memnode cellid='3' nodeset='1-'/>"
		      "</numatune>", "", NODE0);
	/* a preferred nodeset is still checked */
	expect_einval("<numatune><memory mode='preferred' nodeset='64'/>"
		      "</numatune>", "", NODE0);
}

/* Node sets are parsed strictly, wherever they appear. */
static void test_bad_nodesets(void **state)
{
	static const char *const sets[] = {
		"", "0-", "-1", "a", "5-2", "64", "0-64", "100", "1,^1",
		"0,,1", "0,", ",0", "^", "^1-2", "1-^2", " 1", "1 ", "1 ,2",
		"0x1", "+1", "1-2-3", "99999999999999999999", "1;2", "1..2",
	};
	char buf[600], longset[LV_XML_MAX_NODESET + 2];
	struct lv_domain_info info;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		snprintf(buf, sizeof(buf), "<source><nodemask>%s</nodemask>"
			 "</source>", sets[i]);
		expect_einval("", buf, NODE0);
		snprintf(buf, sizeof(buf), "<numatune><memory nodeset='%s'/>"
			 "</numatune>", sets[i]);
		expect_einval(buf, "", NODE0);
		snprintf(buf, sizeof(buf), "<numatune><memnode cellid='0' "
			 "nodeset='%s'/></numatune>", sets[i]);
		expect_einval(buf, "", NODE0);
		snprintf(buf, sizeof(buf), "<memoryBacking><hugepages><page "
			 "size='2048' nodeset='%s'/></hugepages></memoryBacking>",
			 sets[i]);
		expect_einval(buf, "", NODE0);
	}
	/* "0,0,...,0": LV_XML_MAX_NODESET characters pass, one more not */
	for (i = 0; i < LV_XML_MAX_NODESET; i++)
		longset[i] = i % 2 ? ',' : '0';
	longset[LV_XML_MAX_NODESET - 1] = '0';
	longset[LV_XML_MAX_NODESET] = '\0';
	snprintf(buf, sizeof(buf), "<source><nodemask>%s</nodemask></source>",
		 longset);
	expect_backing("", buf, NODE0, 0, 0, 0x1);
	longset[LV_XML_MAX_NODESET] = ',';
	longset[LV_XML_MAX_NODESET + 1] = '\0';
	snprintf(buf, sizeof(buf), "<source><nodemask>%s</nodemask></source>",
		 longset);
	expect_einval("", buf, NODE0);
	longset[LV_XML_MAX_NODESET] = '0';
	snprintf(buf, sizeof(buf), "<source><nodemask>%s</nodemask></source>",
		 longset);
	expect_einval("", buf, NODE0);
	/* the device's guest node is a node id too */
	expect_einval("", "", "<node>64</node>");
	expect_einval("", "", "<node>x</node>");
	expect_einval("", "", "<node></node>");
	expect_einval("", "", "<node>-1</node>");
	/* well-formed sets that libvirt writes */
	assert_int_equal(parse_backing("", "<source><nodemask>0-2,^1,5"
				       "</nodemask></source>", NODE0, &info), 0);
	assert_int_equal(info.host_nodes, 0x25);
	assert_int_equal(parse_backing("", "<source><nodemask>3,1,2-2"
				       "</nodemask></source>", NODE0, &info), 0);
	assert_int_equal(info.host_nodes, 0xe);
}

/* Only the device we drive is read for its backing. */
static void test_backing_of_our_device(void **state)
{
	static const char head[] =
		"<domain><name>g1</name><memory unit='MiB'>1792</memory>"
		"<numatune><memnode cellid='1' nodeset='7'/>"
		"<memnode cellid='0' nodeset='6'/></numatune><devices>"
		"<memory model='virtio-mem'><source><pagesize unit='KiB'>3000"
		"</pagesize><nodemask>a</nodemask></source>"
		"<target><size unit='MiB'>512</size><node>1</node>"
		"<block unit='MiB'>2</block><requested unit='MiB'>64</requested>"
		"</target></memory>"
		"<channel type='unix'><source mode='bind' path='/a'/>"
		"<target type='virtio' name='org.ramm.agent.0'/></channel>";
	struct lv_domain_info info;
	char *xml = join(head, good_vmem, good_tail);

	(void)state;
	assert_int_equal(parse(xml, &info), 0);
	assert_string_equal(info.alias, "virtiomem0");
	assert_int_equal(info.page_bytes, 0);
	assert_int_equal(info.host_nodes, 1ULL << 6);
	free(xml);
}

/* A device assigned through VFIO pins what virtio-mem plugs: a PCI or
 * mediated <hostdev>, or an <interface type='hostdev'>, as libvirt 9.0
 * prints them in live XML. Nothing here has a VFIO device, so these are
 * written after libvirt's formatdomain documentation, not recorded. USB
 * and SCSI hostdevs, a capabilities-mode hostdev and ordinary interfaces
 * go through QEMU and pin nothing. */
static void test_vfio_devices(void **state)
{
	static const struct {
		const char *xml;
		int vfio;
	} cases[] = {
		{ "", 0 },
		{ "    <hostdev mode='subsystem' type='pci' managed='yes'>\n"
		  "      <driver name='vfio'/>\n"
		  "      <source>\n"
		  "        <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>\n"
		  "      </source>\n"
		  "      <alias name='hostdev0'/>\n"
		  "      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n"
		  "    </hostdev>\n", 1 },
		{ "    <hostdev type='pci'><source><address bus='0x03'/></source></hostdev>\n", 1 },
		{ "    <hostdev mode='subsystem' type='mdev' model='vfio-pci' managed='no'>\n"
		  "      <source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source>\n"
		  "      <alias name='hostdev1'/>\n"
		  "    </hostdev>\n", 1 },
		{ "    <interface type='hostdev' managed='yes'>\n"
		  "      <mac address='52:54:00:6d:90:02'/>\n"
		  "      <driver name='vfio'/>\n"
		  "      <source>\n"
		  "        <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>\n"
		  "      </source>\n"
		  "      <alias name='hostdev2'/>\n"
		  "    </interface>\n", 1 },
		{ "    <hostdev mode='subsystem' type='usb' managed='yes'>\n"
		  "      <source><vendor id='0x1234'/><product id='0xbeef'/></source>\n"
		  "    </hostdev>\n"
		  "    <hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/>"
		  "<address bus='0' target='0' unit='0'/></source></hostdev>\n"
		  "    <hostdev mode='capabilities' type='storage'><source>"
		  "<block>/dev/sdf1</block></source></hostdev>\n"
		  "    <interface type='network'><source network='default'/>"
		  "<model type='virtio'/></interface>\n", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *devs = join(good_vmem, cases[i].xml, "");
		char *xml = join(good_head, devs, good_tail);
		struct lv_domain_info info;

		assert_int_equal(parse(xml, &info), 0);
		assert_int_equal(info.vfio, cases[i].vfio);
		assert_string_equal(info.alias, "virtiomem0");
		free(xml);
		free(devs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_domain),
		cmocka_unit_test(test_two_devices),
		cmocka_unit_test(test_vfio_devices),
		cmocka_unit_test(test_not_a_ramm_guest),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_channel),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_resize_element),
		cmocka_unit_test(test_device_source),
		cmocka_unit_test(test_memorybacking_pages),
		cmocka_unit_test(test_hugepages_default),
		cmocka_unit_test(test_page_units),
		cmocka_unit_test(test_bad_page_sizes),
		cmocka_unit_test(test_numatune),
		cmocka_unit_test(test_bad_nodesets),
		cmocka_unit_test(test_backing_of_our_device),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
