/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "libvirt_xml.h"
#include "pages.h"

/* No entity substitution, no DTD or network loads, no error spew. */
#define LV_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | \
			XML_PARSE_NOWARNING | XML_PARSE_NOCDATA)

static int lv_is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE &&
	       !strcmp((const char *)n->name, name);
}

/* The first element child of @parent named @name, or NULL. */
static xmlNode *lv_child(const xmlNode *parent, const char *name)
{
	unsigned int seen = 0;

	if (!parent)
		return NULL;
	for (xmlNode *c = parent->children; c && seen < LV_XML_MAX_DEVICES;
	     c = c->next, seen++)
		if (lv_is(c, name))
			return c;
	return NULL;
}

/* Does attribute @attr of @n equal @want? */
static int lv_attr_is(xmlNode *n, const char *attr, const char *want)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	int eq = v && !strcmp((const char *)v, want);

	xmlFree(v);
	return eq;
}

/* A device assigned through VFIO (lv_domain_info.vfio): a subsystem
 * <hostdev> of PCI or mediated type, or an <interface type='hostdev'>. */
static int lv_is_vfio(xmlNode *n)
{
	xmlChar *mode;
	int subsystem;

	if (lv_is(n, "interface"))
		return lv_attr_is(n, "type", "hostdev");
	if (!lv_is(n, "hostdev"))
		return 0;
	mode = xmlGetProp(n, (const xmlChar *)"mode");
	subsystem = !mode || !strcmp((const char *)mode, "subsystem");
	xmlFree(mode);
	return subsystem && (lv_attr_is(n, "type", "pci") || lv_attr_is(n, "type", "mdev"));
}

/* Copy attribute @attr of @n into @buf; -EINVAL if absent or too long. */
static int lv_attr_copy(xmlNode *n, const char *attr, char *buf, size_t len)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	int ret = -EINVAL;

	if (v && v[0] && strlen((const char *)v) < len) {
		memcpy(buf, v, strlen((const char *)v) + 1);
		ret = 0;
	}
	xmlFree(v);
	return ret;
}

/* A libvirt scaled integer given as @text in @unit (NULL: @def_unit). */
static int lv_scaled_text(const char *text, const char *unit,
			  uint64_t def_unit, uint64_t *bytes)
{
	static const struct { const char *unit; uint64_t mul; } units[] = {
		{ "b", 1 }, { "bytes", 1 },
		{ "KB", 1000ULL }, { "k", 1024ULL }, { "KiB", 1024ULL },
		{ "MB", 1000000ULL }, { "M", 1ULL << 20 }, { "MiB", 1ULL << 20 },
		{ "GB", 1000000000ULL }, { "G", 1ULL << 30 }, { "GiB", 1ULL << 30 },
		{ "TB", 1000000000000ULL }, { "T", 1ULL << 40 }, { "TiB", 1ULL << 40 },
	};
	uint64_t mul = def_unit;
	unsigned long long v;
	char *end;

	if (unit) {
		mul = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (!strcmp(unit, units[i].unit))
				mul = units[i].mul;
		if (!mul)
			return -EINVAL;
	}
	if (!text || text[0] < '0' || text[0] > '9' || strlen(text) > 20)
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > UINT64_MAX / mul)
		return -EINVAL;
	*bytes = v * mul;
	return 0;
}

/* libvirt's scaled integers: <x unit='KiB'>N</x>; no unit means @def_unit. */
static int lv_scaled(xmlNode *n, uint64_t def_unit, uint64_t *bytes)
{
	xmlChar *text, *unit;
	int ret;

	if (!n)
		return -EINVAL;
	unit = xmlGetProp(n, (const xmlChar *)"unit");
	text = xmlNodeGetContent(n);
	ret = lv_scaled_text((const char *)text, (const char *)unit, def_unit,
			     bytes);
	xmlFree(text);
	xmlFree(unit);
	return ret;
}

/* A node id at *@s: decimal digits, < LV_XML_MAX_NODES; *@s moves past. */
static int lv_node_id(const char **s, unsigned int *id)
{
	unsigned int v = 0, digits = 0;

	for (; **s >= '0' && **s <= '9'; (*s)++, digits++) {
		v = v * 10 + (unsigned int)(**s - '0');
		if (v >= LV_XML_MAX_NODES)
			return -EINVAL;
	}
	if (!digits)
		return -EINVAL;
	*id = v;
	return 0;
}

/* A whole string that is one node id; -EINVAL for anything else. */
static int lv_node_id_str(const char *s, unsigned int *id)
{
	if (!s || lv_node_id(&s, id) || *s)
		return -EINVAL;
	return 0;
}

/*
 * A libvirt node set ("0-3,^2,5", virBitmapParse's syntax as libvirt
 * formats it) into @mask: comma-separated entries N, N-M (N <= M) or ^N
 * (N removed), applied in order; no spaces, no empty entries. The string
 * is at most LV_XML_MAX_NODESET long, every id < LV_XML_MAX_NODES and the
 * set not empty. Returns 0, or -EINVAL with @mask untouched. O(length).
 */
static int lv_nodeset(const char *s, uint64_t *mask)
{
	uint64_t m = 0;

	if (!s || !s[0] || strnlen(s, LV_XML_MAX_NODESET + 1) > LV_XML_MAX_NODESET)
		return -EINVAL;
	for (;;) {
		int neg = *s == '^';
		unsigned int first, last;

		s += neg;
		if (lv_node_id(&s, &first))
			return -EINVAL;
		last = first;
		if (*s == '-') {
			s++;
			if (neg || lv_node_id(&s, &last) || last < first)
				return -EINVAL;
		}
		for (unsigned int i = first; i <= last; i++)
			m = neg ? m & ~(1ULL << i) : m | 1ULL << i;
		if (!*s)
			break;
		if (*s++ != ',')
			return -EINVAL;
	}
	if (!m)
		return -EINVAL;
	*mask = m;
	return 0;
}

/* Attribute @attr of @n as a node set; absent leaves *@mask and gives 1. */
static int lv_attr_nodeset(xmlNode *n, const char *attr, uint64_t *mask)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)attr);
	int ret = v ? lv_nodeset((const char *)v, mask) : 1;

	xmlFree(v);
	return ret;
}

static int lv_parse_vmem(xmlNode *mem, struct lv_domain_info *out)
{
	xmlNode *target = lv_child(mem, "target");
	xmlNode *alias = lv_child(mem, "alias");
	xmlNode *cur;

	if (!target ||
	    lv_scaled(lv_child(target, "size"), 1024, &out->max_bytes) ||
	    lv_scaled(lv_child(target, "block"), 1024, &out->block_bytes) ||
	    lv_scaled(lv_child(target, "requested"), 1024, &out->requested_bytes))
		return -EINVAL;
	/* <current> appears once QEMU reported a size; until then none is
	 * plugged as far as libvirt knows. */
	cur = lv_child(target, "current");
	out->size_bytes = 0;
	if (cur && lv_scaled(cur, 1024, &out->size_bytes))
		return -EINVAL;
	if (!out->block_bytes || out->block_bytes & (out->block_bytes - 1) ||
	    out->size_bytes > out->max_bytes ||
	    out->requested_bytes > out->max_bytes)
		return -EINVAL;
	if (!alias || lv_attr_copy(alias, "name", out->alias, sizeof(out->alias)))
		return -ENODEV; /* not addressable: not ours to drive */
	return 0;
}

/*
 * The huge page size backing the device @mem on guest node @node (-1: no
 * <node>), the way libvirt picks it: <source><pagesize>, else the first
 * <hugepages><page> whose nodeset holds @node, else the (last) page
 * without a nodeset, else none. An empty <hugepages/> is the host's
 * default huge page size. Every <page> is checked, applicable or not.
 */
static int lv_parse_pagesize(xmlNode *root, xmlNode *mem, int node,
			     struct lv_domain_info *out)
{
	xmlNode *ps = lv_child(lv_child(mem, "source"), "pagesize");
	xmlNode *hp = lv_child(lv_child(root, "memoryBacking"), "hugepages");
	uint64_t match = 0, any = 0;
	unsigned int seen = 0;
	int pages = 0;

	if (ps) {
		if (lv_scaled(ps, 1024, &out->page_bytes) ||
		    !pages_valid_size(out->page_bytes))
			return -EINVAL;
		return 0;
	}
	if (!hp)
		return 0;
	for (xmlNode *c = hp->children; c; c = c->next) {
		xmlChar *size, *unit;
		uint64_t bytes = 0, set = 0;
		int r;

		if (++seen > LV_XML_MAX_DEVICES)
			return -EINVAL;
		if (!lv_is(c, "page"))
			continue;
		pages = 1;
		size = xmlGetProp(c, (const xmlChar *)"size");
		unit = xmlGetProp(c, (const xmlChar *)"unit");
		r = lv_scaled_text((const char *)size, (const char *)unit, 1024,
				   &bytes);
		xmlFree(size);
		xmlFree(unit);
		if (r || !pages_valid_size(bytes))
			return -EINVAL;
		r = lv_attr_nodeset(c, "nodeset", &set);
		if (r < 0)
			return r;
		if (r)
			any = bytes;
		else if (!match && node >= 0 && (set & 1ULL << node))
			match = bytes;
	}
	if (!pages)
		out->hugepages_default = 1;
	out->page_bytes = match ? match : any;
	return 0;
}

/*
 * A <numatune> <memory> or <memnode>'s node mask: its nodeset for modes
 * strict (the default), restrictive and interleave; 0 (any) for preferred,
 * which falls back to other nodes, for placement='auto' and without a
 * nodeset. A nodeset is checked whatever the mode.
 */
static int lv_numa_policy(xmlNode *n, uint64_t *mask)
{
	xmlChar *mode = xmlGetProp(n, (const xmlChar *)"mode");
	xmlChar *placement = xmlGetProp(n, (const xmlChar *)"placement");
	const char *m = mode ? (const char *)mode : "strict";
	const char *p = placement ? (const char *)placement : "static";
	uint64_t set = 0;
	int confined, ret = -EINVAL;

	confined = !strcmp(m, "strict") || !strcmp(m, "restrictive") ||
		   !strcmp(m, "interleave");
	if (!confined && strcmp(m, "preferred"))
		goto out;
	if (strcmp(p, "static") && strcmp(p, "auto"))
		goto out;
	ret = lv_attr_nodeset(n, "nodeset", &set);
	if (ret < 0)
		goto out;
	*mask = confined && !strcmp(p, "static") ? set : 0;
	ret = 0;
out:
	xmlFree(mode);
	xmlFree(placement);
	return ret;
}

/*
 * The host nodes backing the device @mem on guest node @node (-1: none):
 * its <source><nodemask>, else the <numatune><memnode> of @node, else
 * <numatune><memory>, else any (0). Every memnode is checked.
 */
static int lv_parse_host_nodes(xmlNode *root, xmlNode *mem, int node,
			       struct lv_domain_info *out)
{
	xmlNode *nm = lv_child(lv_child(mem, "source"), "nodemask");
	xmlNode *numatune = lv_child(root, "numatune");
	xmlNode *memory;
	unsigned int seen = 0;
	int have_memnode = 0;
	xmlChar *text;
	int ret;

	if (nm) {
		text = xmlNodeGetContent(nm);
		ret = lv_nodeset((const char *)text, &out->host_nodes);
		xmlFree(text);
		return ret;
	}
	if (!numatune)
		return 0;
	for (xmlNode *c = numatune->children; c; c = c->next) {
		xmlChar *cellid;
		unsigned int id;
		uint64_t set = 0;

		if (++seen > LV_XML_MAX_DEVICES)
			return -EINVAL;
		if (!lv_is(c, "memnode"))
			continue;
		cellid = xmlGetProp(c, (const xmlChar *)"cellid");
		ret = lv_node_id_str((const char *)cellid, &id);
		xmlFree(cellid);
		if (ret || lv_numa_policy(c, &set))
			return -EINVAL;
		if (!have_memnode && node >= 0 && id == (unsigned int)node) {
			out->host_nodes = set;
			have_memnode = 1;
		}
	}
	memory = lv_child(numatune, "memory");
	if (memory) {
		uint64_t set = 0;

		if (lv_numa_policy(memory, &set))
			return -EINVAL;
		if (!have_memnode)
			out->host_nodes = set;
	}
	return 0;
}

/* The backing of @mem, the virtio-mem device we drive, into @out. */
static int lv_parse_backing(xmlNode *root, xmlNode *mem,
			    struct lv_domain_info *out)
{
	xmlNode *n = lv_child(lv_child(mem, "target"), "node");
	unsigned int id;
	int node = -1, ret = 0;

	if (n) {
		xmlChar *text = xmlNodeGetContent(n);

		ret = lv_node_id_str((const char *)text, &id);
		xmlFree(text);
		if (!ret)
			node = (int)id;
	}
	if (!ret)
		ret = lv_parse_pagesize(root, mem, node, out);
	if (!ret)
		ret = lv_parse_host_nodes(root, mem, node, out);
	return ret ? -EINVAL : 0;
}

static int lv_parse_channel(xmlNode *ch, struct lv_domain_info *out)
{
	xmlNode *target = lv_child(ch, "target");
	xmlNode *source = lv_child(ch, "source");

	if (!lv_attr_is(ch, "type", "unix") || !target ||
	    !lv_attr_is(target, "type", "virtio") ||
	    !lv_attr_is(target, "name", LV_AGENT_PORT))
		return -ENODEV;
	/* libvirt binds the socket and QEMU listens: rammd connects. */
	if (!source || !lv_attr_is(source, "mode", "bind") ||
	    lv_attr_copy(source, "path", out->agent_path, sizeof(out->agent_path)) ||
	    out->agent_path[0] != '/')
		return -EINVAL;
	return 0;
}

/* libxml2 prints some errors (encodings) whatever the options say. */
static void lv_xml_silent(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

static xmlDoc *lv_read(const char *xml, size_t len)
{
	xmlDoc *doc;

	if (!xml || !len || len > LV_XML_MAX)
		return NULL;
	xmlSetGenericErrorFunc(NULL, lv_xml_silent);
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL, LV_XML_OPTIONS);
	/* libvirt never writes a DOCTYPE; one can only declare entities,
	 * whose expansion (xmlNodeGetContent) could be made to blow up. */
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		return NULL;
	}
	return doc;
}

int lv_xml_parse_domain(const char *xml, size_t len, struct lv_domain_info *out)
{
	xmlDoc *doc = lv_read(xml, len);
	xmlNode *root, *name, *devices, *vmem = NULL;
	xmlChar *text;
	int have_vmem = 0, have_chan = 0, ret = -EINVAL;
	unsigned int seen = 0;
	/* Other virtio-mem devices: their max is in <memory>, but only what
	 * they have plugged is memory the guest has outside ours. */
	uint64_t other_max = 0, other_plugged = 0;

	memset(out, 0, sizeof(*out));
	if (!doc)
		return -EINVAL;
	root = xmlDocGetRootElement(doc);
	if (!lv_is(root, "domain"))
		goto out;
	name = lv_child(root, "name");
	text = name ? xmlNodeGetContent(name) : NULL;
	if (!text || !text[0] || strlen((const char *)text) >= sizeof(out->name)) {
		xmlFree(text);
		goto out;
	}
	memcpy(out->name, text, strlen((const char *)text) + 1);
	xmlFree(text);
	if (lv_scaled(lv_child(root, "memory"), 1024, &out->memory_bytes))
		goto out;
	devices = lv_child(root, "devices");
	if (!devices) {
		ret = -ENODEV;
		goto out;
	}
	for (xmlNode *c = devices->children; c; c = c->next) {
		int r;

		if (++seen > LV_XML_MAX_DEVICES)
			goto out;
		if (lv_is(c, "memory") && lv_attr_is(c, "model", "virtio-mem")) {
			struct lv_domain_info other;

			r = lv_parse_vmem(c, have_vmem ? &other : out);
			if (r == -EINVAL)
				goto out;
			if (have_vmem || r) {
				/* not the one we drive */
				struct lv_domain_info *o = have_vmem ? &other : out;

				if (other_max > UINT64_MAX - o->max_bytes)
					goto out;
				other_max += o->max_bytes;
				other_plugged += o->size_bytes;
			}
			if (!have_vmem && !r)
				vmem = c;
			have_vmem = have_vmem || !r;
		} else if (!have_chan && lv_is(c, "channel")) {
			r = lv_parse_channel(c, out);
			if (r == -EINVAL)
				goto out;
			have_chan = !r;
		} else if (lv_is_vfio(c)) {
			out->vfio = 1;
		}
	}
	if (!have_vmem || !have_chan) {
		ret = -ENODEV;
		goto out;
	}
	if (other_max > UINT64_MAX - out->max_bytes ||
	    out->memory_bytes <= out->max_bytes + other_max)
		goto out; /* no boot memory left: nonsense */
	out->boot_bytes = out->memory_bytes - out->max_bytes - other_max +
			  other_plugged;
	if (lv_parse_backing(root, vmem, out))
		goto out;
	ret = 0;
out:
	xmlFreeDoc(doc);
	return ret;
}

int lv_xml_resize_device(const char *xml, size_t len, const char *alias,
			 uint64_t requested_bytes, char **out)
{
	xmlDoc *doc = lv_read(xml, len);
	xmlNode *root, *devices, *mem = NULL, *target, *req, *cur;
	xmlBuffer *buf = NULL;
	char kib[32], *text;
	unsigned int seen = 0;
	int ret = -EINVAL;

	if (!doc)
		return -EINVAL;
	root = xmlDocGetRootElement(doc);
	devices = lv_is(root, "domain") ? lv_child(root, "devices") : NULL;
	if (!devices)
		goto out;
	for (xmlNode *c = devices->children; c && !mem; c = c->next) {
		xmlNode *a;

		if (++seen > LV_XML_MAX_DEVICES)
			goto out;
		if (lv_is(c, "memory") && lv_attr_is(c, "model", "virtio-mem") &&
		    (a = lv_child(c, "alias")) && lv_attr_is(a, "name", alias))
			mem = c;
	}
	ret = -ENODEV;
	target = mem ? lv_child(mem, "target") : NULL;
	req = target ? lv_child(target, "requested") : NULL;
	if (!req)
		goto out;
	ret = -ENOMEM;
	snprintf(kib, sizeof(kib), "%llu", (unsigned long long)(requested_bytes / 1024));
	xmlNodeSetContent(req, (const xmlChar *)kib);
	if (!xmlSetProp(req, (const xmlChar *)"unit", (const xmlChar *)"KiB"))
		goto out;
	cur = lv_child(target, "current");
	if (cur) {
		xmlUnlinkNode(cur);
		xmlFreeNode(cur);
	}
	buf = xmlBufferCreate();
	if (!buf || xmlNodeDump(buf, doc, mem, 0, 0) < 0)
		goto out;
	text = strdup((const char *)xmlBufferContent(buf));
	if (!text)
		goto out;
	*out = text;
	ret = 0;
out:
	if (buf)
		xmlBufferFree(buf);
	xmlFreeDoc(doc);
	return ret;
}
