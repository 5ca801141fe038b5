/* SPDX-License-Identifier: MIT */
/*
 * What the libvirt backend needs from a domain's live XML, read with
 * libxml2. The XML is untrusted input (whoever defined the domain wrote
 * most of it): it is size-bounded, parsed without entity substitution or
 * network/DTD loading, every number is range-checked and every string
 * length-checked. Pure: no libvirt calls, no logging.
 */
#ifndef RAMM_LIBVIRT_XML_H
#define RAMM_LIBVIRT_XML_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Larger domain XML is refused rather than parsed. */
#define LV_XML_MAX (1024 * 1024)
/* At most this many <devices> children are looked at. */
#define LV_XML_MAX_DEVICES 4096
#define LV_XML_MAX_ALIAS 64
/* The virtio-serial port name the guest agent listens on. */
#define LV_AGENT_PORT "org.ramm.agent.0"
/* Host and guest NUMA node ids must be below this (bits of a uint64_t). */
#define LV_XML_MAX_NODES 64
/* Longer node-set strings ("0-3,^2,5") are refused. */
#define LV_XML_MAX_NODESET 256
/* The page sizes accepted for a backing: powers of two in this range. */

struct lv_domain_info {
	char name[CONFIG_MAX_NAME];          /* <name> */
	uint64_t memory_bytes;               /* <memory>: boot + device sizes */
	char alias[LV_XML_MAX_ALIAS];        /* the virtio-mem device's alias */
	uint64_t boot_bytes;                 /* memory_bytes - device <size> */
	uint64_t block_bytes;                /* <block> */
	uint64_t size_bytes;                 /* <current> (plugged) */
	uint64_t requested_bytes;            /* <requested> */
	uint64_t max_bytes;                  /* <size> */
	char agent_path[CONFIG_MAX_SOCKET_PATH + 1]; /* channel source path */
	/*
	 * The virtio-mem device's backing, as libvirt chooses it:
	 *   page_bytes         the device's <source><pagesize>; else the
	 *                      <memoryBacking><hugepages><page> whose nodeset
	 *                      holds the device's guest <target><node>, else
	 *                      the one without a nodeset; 0 if none applies
	 *                      (ordinary memory: the host's base page size).
	 *                      A size equal to the base page size is ordinary
	 *                      memory too (libvirt treats it so); it is
	 *                      reported as given.
	 *   hugepages_default  1 if the backing is hugetlbfs with the host's
	 *                      default huge page size: an empty <hugepages/>
	 *                      and no <source><pagesize>. page_bytes is then 0
	 *                      and the caller must look the size up on the host.
	 *   host_nodes         host NUMA nodes the backing may be allocated
	 *                      from, bit n = node n, 0 = any node: the device's
	 *                      <source><nodemask>; else <numatune><memnode> for
	 *                      its guest node; else <numatune><memory>. Modes
	 *                      strict, restrictive and interleave confine the
	 *                      memory to the nodeset; preferred may fall back to
	 *                      any node and placement='auto' (numad) shows no
	 *                      nodeset in the XML, so both give 0.
	 */
	uint64_t page_bytes;                 /* backing page size, see above */
	int hugepages_default;               /* host's default huge page size */
	uint64_t host_nodes;                 /* host node mask, 0 = any */
	/*
	 * 1 if a device is assigned to the guest through VFIO, which pins
	 * every block virtio-mem plugs in host RAM at once: a <hostdev> in
	 * mode 'subsystem' (the default) of type 'pci' or 'mdev', or an
	 * <interface type='hostdev'> (an SR-IOV function). USB and SCSI
	 * hostdevs go through QEMU, not VFIO, and pin nothing.
	 */
	int vfio;
};

/*
 * lv_xml_parse_domain - read @xml (@len bytes, need not be NUL-terminated)
 * into @out. Takes the first <memory model='virtio-mem'> device that has an
 * alias, and the first unix <channel> whose virtio target is named
 * LV_AGENT_PORT and whose source is bound to an absolute path, that
 * device's backing (page_bytes, hugepages_default, host_nodes above), and
 * whether any device is assigned through VFIO (vfio).
 * Returns 0; -EINVAL if the XML is malformed, too large, or a member is
 * missing, out of range or too long: among them a page size (device
 * <pagesize> or any <hugepages><page>) that is not pages_valid_size(); a node set (<nodemask>, a page's or
 * <numatune>'s nodeset) that is malformed, longer than LV_XML_MAX_NODESET,
 * empty, or names a node >= LV_XML_MAX_NODES; a guest <node> or memnode
 * cellid >= LV_XML_MAX_NODES; an unknown numatune mode or placement.
 * -ENODEV if the domain is well formed
 * but lacks the device or the channel (not a ramm guest). On failure @out
 * is partly filled and must not be used. The caller owns everything.
 */
int lv_xml_parse_domain(const char *xml, size_t len,
			struct lv_domain_info *out);

/*
 * lv_xml_resize_device - the XML for virDomainUpdateDeviceFlags() that asks
 * the virtio-mem device with alias @alias in domain @xml for
 * @requested_bytes: that device's live element, unchanged but for
 * <requested unit='KiB'> and without the read-only <current>.
 * On success returns 0 and stores a malloc()ed, NUL-terminated string the
 * caller frees with free(). Returns -EINVAL for malformed XML, -ENODEV if
 * no such device, -ENOMEM; then *@out is untouched.
 */
int lv_xml_resize_device(const char *xml, size_t len, const char *alias,
			 uint64_t requested_bytes, char **out);

#endif /* RAMM_LIBVIRT_XML_H */
