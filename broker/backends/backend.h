/* SPDX-License-Identifier: MIT */
/*
 * The one interface every hypervisor backend implements. The daemon drives a
 * guest's virtio-mem device only through these calls and learns about it only
 * through the guest_backend_*() callbacks in guest.h, so it cannot tell a QMP
 * guest from a libvirt one.
 */
#ifndef RAMM_BACKEND_H
#define RAMM_BACKEND_H

#include <stdint.h>

struct guest;

/* What a backend reports about a guest's virtio-mem device. */
struct vmem_device {
	uint64_t boot_bytes;      /* memory outside virtio-mem (base memory) */
	uint64_t block_bytes;     /* virtio-mem block size */
	uint64_t size_bytes;      /* currently plugged */
	uint64_t requested_bytes; /* what the device was last asked for */
	uint64_t max_bytes;       /* device maximum */
	uint64_t page_bytes;      /* backing page size: a huge page size
				   * (hugetlbfs), or the host's base page
				   * size for ordinary memory; 0 if unknown */
	uint64_t host_nodes;      /* host NUMA nodes the backing may come
				   * from, bit n = node n; 0 = any node */
	int vfio;                 /* the guest has a VFIO device: QEMU pins
				   * every block it plugs in host RAM */
};

struct backend_ops {
	const char *name;
	/*
	 * attach - start watching @g: connect, find its virtio-mem device and
	 * report it with guest_backend_device(). Retries on its own until
	 * detach. Returns 0 or -errno (-ENOMEM); then nothing was started.
	 */
	int (*attach)(struct guest *g);
	/*
	 * set_requested_size - ask the device for @vmem_bytes of plugged
	 * memory (a multiple of the block size, <= max). Completion arrives as
	 * guest_backend_size(). Returns 0 once the request was sent, or
	 * -ENOTCONN / -errno; then the device was not asked. A request sent
	 * but refused or left unanswered later is reported with
	 * guest_backend_resize_failed().
	 */
	int (*set_requested_size)(struct guest *g, uint64_t vmem_bytes);
	/*
	 * resize_sent_later - set_requested_size() only queues the request;
	 * guest_backend_resize_sent() says when the hypervisor took it (or
	 * guest_backend_resize_failed() that it did not). Until then the
	 * resize is not judged stalled, only timed out.
	 */
	int resize_sent_later;
	/* refresh - re-read the device, or look for it again if it was never
	 * found; the answer arrives as guest_backend_device(). Never fails: a
	 * lost connection is retried. */
	void (*refresh)(struct guest *g);
	/* detach - stop watching and free the backend's state for @g. */
	void (*detach)(struct guest *g);
};

extern const struct backend_ops backend_qmp_ops;
extern const struct backend_ops backend_libvirt_ops;

#endif /* RAMM_BACKEND_H */
