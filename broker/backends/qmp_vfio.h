/* SPDX-License-Identifier: MIT */
/*
 * Whether a QEMU guest has a VFIO device, from QMP's answer to qom-list of
 * /machine/peripheral (devices with an id) or /machine/peripheral-anon
 * (without one). A VFIO device makes QEMU pin every block virtio-mem plugs
 * in host RAM at once, so the planner must count it as resident.
 *
 * Why qom-list and not query-pci: query-pci's PciDeviceInfo names a
 * device by its qdev_id (the id the user chose: "hostdev0", "hostpci0")
 * and its PCI class code, never its QOM type, so an assigned NIC and an
 * emulated one look alike. qom-list lists each device as a child property
 * whose type is "child<TYPE>": "child<vfio-pci>".
 *
 * Pure: json-c in, a verdict out; no I/O, no logging.
 */
#ifndef RAMM_QMP_VFIO_H
#define RAMM_QMP_VFIO_H

struct json_object;

/* At most this many entries of a qom-list reply are read; a longer reply
 * is refused. QEMU lists one per device plus a few properties. */
#define QMP_VFIO_MAX_ENTRIES 4096
/* Longest "type" string read: "child<" + a QOM type name + ">". */
#define QMP_VFIO_MAX_TYPE 128

/*
 * qmp_vfio_in_qom_list - look for a VFIO device in @ret, the "return" of
 * qom-list: an array of objects, each with a string "name" and "type". A
 * child whose type starts "child<vfio-" (vfio-pci, vfio-pci-nohotplug,
 * vfio-platform, vfio-ccw, vfio-ap: every one pins guest memory for DMA)
 * is one. @ret is only read; it stays the caller's.
 * Returns 1 if one is listed, 0 if none, or -EINVAL if @ret is NULL, not
 * an array, longer than QMP_VFIO_MAX_ENTRIES, or an entry is not an
 * object with a string "type" of at most QMP_VFIO_MAX_TYPE bytes. O(n).
 */
int qmp_vfio_in_qom_list(struct json_object *ret);

#endif /* RAMM_QMP_VFIO_H */
