// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * ramm_guest: the in-kernel agent of ramm, the RAM market maker.
 *
 * A kthread, krammd, samples what memory is worth to this guest every
 * interval_ms (and at once when reclaim or the OOM killer runs), turns the
 * samples into a bid curve, and publishes each result as one
 * struct ramm_dev_record on the misc device /dev/ramm. ramm-agent relays the
 * records to the broker and writes the broker's welcome, grant and evict
 * messages back as struct ramm_dev_msg (include/ramm/proto.h).
 *
 * Signals (docs/KERNEL-AGENT.md explains each, and the bid model):
 *  - available and free memory: si_mem_available(), si_meminfo();
 *  - working-set refaults: WORKINGSET_REFAULT_ANON/FILE node counters;
 *  - reclaim pressure: a shrinker whose count_objects() only counts calls;
 *  - OOM: an OOM notifier;
 *  - hotplugged memory: driver-managed System RAM, tracked through the
 *    memory notifier. In the guests ramm manages virtio-mem is the only
 *    source of such memory (dax/kmem would also be driver-managed);
 *  - free-extent histogram: naturally aligned free extents of 2 MiB << i,
 *    counted from the buddy allocator's free blocks, inside the hotplugged
 *    ranges and in the whole system.
 *
 * An evict notice makes krammd take, with alloc_contig_range(), the 2 MiB
 * chunks virtio-mem will unplug next (migrating their used pages out), hold
 * them until all are done, and give them back at once: virtio-mem then
 * finds them free. krammd backs off as soon as virtio-mem starts (see the
 * comment above ramm_zone_isolating()). Records carry RAMM_REC_EVICTING
 * while that work is pending or running, and the notice's id, so that the
 * broker lowers virtio-mem's requested size once it is over; chunks krammd
 * holds meanwhile count as free in the records.
 *
 * Locking (outermost first): pfn_lock (mutex) -> zone->lock; rec_lock and
 * msg_lock are leaves. The memory notifier takes pfn_lock under
 * mem_hotplug_lock, so krammd holds it for one memory block's work at a
 * time and never across alloc_contig_range() (see struct ramm's comment).
 * The callbacks from reclaim and the OOM killer take no lock of ours: they
 * bump an atomic counter and wake krammd, at most once per record.
 *
 * Builds against Linux 6.1 and 6.12 (Debian bookworm and bookworm-backports);
 * every version difference is a LINUX_VERSION_CODE test below and is listed
 * in docs/KERNEL-AGENT.md.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/build_bug.h>
#include <linux/device.h>
#include <linux/freezer.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/math64.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/oom.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/swap.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmstat.h>
#include <linux/wait.h>

#include "ramm/bid_tiers.h"
#include <ramm/proto.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "ramm_guest needs Linux 6.1 or later"
#endif

#ifndef CONFIG_CONTIG_ALLOC
#error "ramm_guest needs CONFIG_CONTIG_ALLOC (alloc_contig_range)"
#endif

/* 6.7 replaced register_shrinker() by shrinker_alloc()/shrinker_register(). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define RAMM_SHRINKER_ALLOC 1
#else
#define RAMM_SHRINKER_ALLOC 0
#endif

/*
 * The highest buddy order, inclusive. Before 6.4 MAX_ORDER was exclusive
 * (orders 0..MAX_ORDER-1); 6.4 made it inclusive and 6.8 renamed it
 * MAX_PAGE_ORDER.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define RAMM_MAX_BUDDY_ORDER MAX_PAGE_ORDER
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define RAMM_MAX_BUDDY_ORDER MAX_ORDER
#else
#define RAMM_MAX_BUDDY_ORDER (MAX_ORDER - 1)
#endif

/*
 * alloc_contig_range() takes a migratetype up to 6.15 and acr_flags_t from
 * 6.16 on (not built here; the macro test keeps that one line right).
 */
#ifdef ACR_FLAGS_NONE
#define RAMM_CONTIG_MODE ACR_FLAGS_NONE
#else
#define RAMM_CONTIG_MODE MIGRATE_MOVABLE
#endif

/* --- constants ------------------------------------------------------- */

#define RAMM_INTERVAL_MIN_MS 100u
#define RAMM_INTERVAL_MAX_MS 60000u
#define RAMM_INTERVAL_DEFAULT_MS 1000u

/* At most one urgent record per this many ns. */
#define RAMM_URGENT_GAP_NS (100 * NSEC_PER_MSEC)
/* How often krammd checks for available memory falling below the mark. */
#define RAMM_AVAIL_CHECK_NS (200 * NSEC_PER_MSEC)
/*
 * While anon + shmem rise at RAMM_SURGE_BYTES_PER_S or faster, krammd
 * checks this often and publishes a record when the last is this old:
 * the broker grows a guest on each record that raises its bid (no closer
 * than 200 ms), and a workload rising at 50 MiB/s outran growth that came
 * with the 1 s periodic record and a surge's urgent one a second.
 */
#define RAMM_RISING_CHECK_NS (50 * NSEC_PER_MSEC)
#define RAMM_RISING_RECORD_NS (200 * NSEC_PER_MSEC)
/*
 * Anonymous and shmem memory that grew by RAMM_SURGE_MIN_BYTES at least,
 * at RAMM_SURGE_BYTES_PER_S or faster, since the last record makes the
 * next one urgent, at most once per RAMM_SURGE_GAP_NS: a workload that
 * starts (80 MiB/s under TCG) would otherwise be seen up to a record
 * later, and a shrink decided meanwhile would go on under it (docs/
 * KERNEL-AGENT.md). Not total less available: while virtio-mem takes a
 * block offline its isolated free pages read as used.
 */
#define RAMM_SURGE_MIN_BYTES (16ULL << 20)
#define RAMM_SURGE_BYTES_PER_S (32ULL << 20)
#define RAMM_SURGE_GAP_NS NSEC_PER_SEC

/* The histogram's smallest extent, the "chunk": 2 MiB, order 9 on x86. */
#define RAMM_CHUNK_ORDER (RAMM_HIST_MIN_SHIFT - PAGE_SHIFT)
#define RAMM_CHUNK_PAGES (1UL << RAMM_CHUNK_ORDER)
#define RAMM_CHUNK_BYTES (1ULL << RAMM_HIST_MIN_SHIFT)

/*
 * Chunks examined per pfn_lock and zone->lock hold: 128 MiB, no more than
 * one memory block (128 MiB to 2 GiB on x86), so a memory notifier waits
 * for at most one block's scan.
 */
#define RAMM_SCAN_BATCH 64u

/* Disjoint hotplugged ranges tracked; virtio-mem's merge into one or few. */
#define RAMM_MAX_RANGES 64u

/* Chunks one evict notice prepares at most (128 GiB). */
#define RAMM_EVICT_MAX_CHUNKS (1u << 16)
#define RAMM_EVICT_MAX_DEADLINE_MS 600000u
#define RAMM_EVICT_HELD 1UL /* in ramm_evict.pfns: chunk taken by krammd */
/* Most adjacent chunks taken by one alloc_contig_range() call (16 MiB). */
#define RAMM_EVICT_BATCH 8u

/*
 * Kernel zones (those below ZONE_MOVABLE) hold every kernel allocation:
 * page tables, slab, and the memmap of each memory block virtio-mem adds.
 * Their low mark is 1/RAMM_KZONE_LOW_DIV of what they manage, within
 * [RAMM_KZONE_LOW_MIN, RAMM_KZONE_LOW_MAX]; krammd keeps that much of
 * them for kernel allocations (see "kernel-zone pool").
 */
#define RAMM_KZONE_LOW_DIV 16u
#define RAMM_KZONE_LOW_MIN (8ULL << 20)
#define RAMM_KZONE_LOW_MAX (128ULL << 20)
/*
 * The pool holds blocks of this order (32 KiB with 4 KiB pages), so that
 * what it gives back serves kernel stacks and other small multi-page
 * allocations too, and takes at most this many per check (1 MiB).
 */
#define RAMM_POOL_ORDER 3u
#define RAMM_POOL_FILL_BATCH 32u

/* Bounds on welcome values: 1 GiB units, 1 PiB sizes (keeps math in u64). */
#define RAMM_MAX_UNIT_BYTES (1ULL << 30)
#define RAMM_MAX_BYTES (1ULL << 50)

#define RAMM_MIB (1024ULL * 1024ULL)

/* The bid model's tiers (RAMM_PRICE_*) are in ramm/bid_tiers.h. */
#define RAMM_BID_TIERS 5u

/*
 * A refault rate counts as a jump when it is at least this many pages per
 * second (1 MiB/s with 4 KiB pages) and at least twice its recent average.
 */
#define RAMM_REFAULT_MIN_PPS 256u
#define RAMM_REFAULT_JUMP_FACTOR 2u
#define RAMM_REFAULT_EWMA_SHIFT 3u /* average over ~8 samples */

/* Short-tier price terms, in thousandths of RAMM_PRICE_SHORT. */
#define RAMM_SHORT_RECLAIM_PM 50u   /* per shrinker call per second, to 10 */
#define RAMM_SHORT_RECLAIM_MAX 10u
#define RAMM_SHORT_REFAULT_PM 500u  /* for a refault rate jump */
#define RAMM_SHORT_OOM_PM 1000u     /* for an OOM since the last record */

/* krammd's wake-up reasons, bits in ramm.events. */
enum {
	RAMM_EV_KICK,    /* something changed: re-evaluate now */
	RAMM_EV_PUBLISH, /* a welcome arrived, or evict work ended: publish */
	RAMM_EV_EVICT,   /* an evict notice arrived: plan its work */
	RAMM_EV_URGENT,  /* a shrinker or OOM call since krammd last read
			  * their counters: later calls need not wake it */
};

static_assert(RAMM_PRICE_IN_USE > RAMM_PRICE_SHORT &&
	      RAMM_PRICE_IN_USE <= RAMM_MAX_PRICE &&
	      RAMM_PRICE_SHORT > RAMM_PRICE_NEED &&
	      RAMM_PRICE_NEED > RAMM_PRICE_COMFORT &&
	      RAMM_PRICE_COMFORT > RAMM_PRICE_SPARE && RAMM_PRICE_SPARE > 0,
	      "tier prices must decrease");
static_assert(RAMM_BID_TIERS <= RAMM_MAX_BID_STEPS, "one step per tier");

/* --- state ------------------------------------------------------------ */

/* A range of page frames, [start_pfn, end_pfn). */
struct ramm_range {
	unsigned long start_pfn; /* first page frame */
	unsigned long end_pfn;   /* one past the last page frame */
};

/* What the broker told us; ramm.msg_lock protects it. */
struct ramm_market {
	bool welcomed;          /* a welcome arrived; unit..reserve are valid */
	u64 unit_bytes;         /* market unit, a power of two >= 4096 */
	u64 floor_bytes;        /* floor, physical bytes (boot + virtio-mem) */
	u64 cap_bytes;          /* cap, physical bytes */
	u64 reserve_bytes;      /* boot reserve: least (size - totalram) seen,
				 * used while @boot_bytes is 0 */
	u64 boot_bytes;         /* the host's boot memory, 0: not told */
	u64 grant_target_bytes; /* the last grant's target, 0 before one */
	u64 grant_price;        /* the last grant's clearing price */
	u64 evict_units;        /* the last evict notice's units */
	u64 evict_deadline_ms;  /* ... its deadline */
	u64 evict_rx_ns;        /* ... and when it was written (monotonic) */
	u64 evict_id;           /* ... and the broker's id for it */
	u64 evict_gen;          /* evict notices written since load: tells a
				 * notice from an earlier one of the same id */
};

/* One evict notice's work; krammd's own, no lock. */
struct ramm_evict {
	unsigned long *pfns;  /* chunks in virtio-mem's unplug order, or NULL;
			       * bit 0 set: krammd holds the chunk */
	unsigned int n;       /* valid entries in @pfns */
	unsigned int cursor;  /* pfns[0, cursor) are still to do, last first */
	u64 units;            /* the notice's units */
	u64 id;               /* ... and its id */
	u64 start_ns;         /* when krammd planned it */
	u64 deadline_ns;      /* when to give up (monotonic) */
	unsigned long managed; /* totalram_pages() when planned */
	unsigned int n_free;    /* chunks that were free already */
	unsigned int n_cleared; /* chunks emptied by migration */
	unsigned int n_busy;    /* chunks alloc_contig_range() could not take */
	unsigned int single;    /* this many next chunks go one by one */
	unsigned int batch;     /* chunks per call now: 1, 2, 4 .. RAMM_EVICT_BATCH */
	/*
	 * Chunks held now, also as bits by chunk index from @held_base (the
	 * lowest listed chunk), so that the free-extent scan can count them
	 * free at O(1) a chunk: they go back to the buddy allocator whole
	 * before virtio-mem comes. @held_map may be NULL (no memory for it):
	 * held chunks then show as used, as before records counted them.
	 */
	unsigned int n_held;
	unsigned long *held_map;
	unsigned long held_base; /* chunk index (pfn >> RAMM_CHUNK_ORDER) of bit 0 */
	unsigned long held_bits; /* bits in @held_map */
	struct ramm_range ranges[RAMM_MAX_RANGES]; /* ramm.ranges when planned */
};

/* What the kernel zones and ZONE_MOVABLE have left, in bytes. */
struct ramm_kzone {
	u64 usable;         /* free above the high watermark and the reserve
			     * that kernel (GFP_KERNEL) allocations leave */
	u64 low;            /* the kernel zones' low mark */
	u64 movable_usable; /* free above the high watermark in ZONE_MOVABLE */
	u64 pool;           /* krammd's kernel-zone pool, kept for the kernel */
};

/* krammd's memory between samples; krammd's own, no lock. */
struct ramm_sampler {
	u64 last_ns;          /* when the previous record was sampled, 0: none */
	u64 last_shrinker;    /* ramm.shrinker_calls in the previous record */
	u64 last_oom;         /* ramm.oom_events in the previous record */
	u64 last_refaults;    /* anon + file refaults in the previous record */
	u64 refault_ewma_pps; /* average refault rate, pages per second */
	u64 rise_ns;          /* when rise_wss was taken, 0: not yet */
	u64 rise_wss;         /* total - available then */
	u64 rise_bps;         /* recent rise of that, bytes per second */
	u64 reserve;          /* the last record's boot reserve (ramm_reserve()) */
	bool was_short;       /* available was below the mark at the last look */
	bool short_edge;      /* ... and went there since the previous record */
	u64 last_anon;        /* anon + shmem bytes in the previous record */
	u64 check_ns;         /* when check_anon was read, 0: not yet */
	u64 check_anon;       /* anon + shmem bytes at an earlier check */
	bool rising;          /* ... and they rose fast since (ramm_rising()) */
	u64 calm_anon;        /* anon + shmem bytes at the last check that
			       * found them not rising fast */
	u64 surge_ns;         /* a surge last made a record urgent, 0: never */
	bool surge_edge;      /* anon + shmem surged since the previous record */
	struct ramm_dev_record rec; /* the record being built */
};

/*
 * Counters for tests and benchmarks, read-only in /sys/class/misc/ramm/stats/
 * (docs/KERNEL-AGENT.md). Atomics: writers are krammd and the memory
 * notifier, readers anyone; each value is exact, the set is not a snapshot.
 */
struct ramm_stats {
	atomic64_t wakeups;      /* krammd's returns from sleep */
	atomic64_t samples;      /* records published */
	atomic64_t scans;        /* free-extent scans done */
	atomic64_t scan_ns_last; /* the last scan's time, wall clock */
	atomic64_t scan_ns_max;  /* the longest scan */
	atomic64_t scan_ns_sum;  /* all scans together */
	atomic64_t hold_ns_max;  /* krammd's longest single hold of pfn_lock */
	atomic64_t notify_calls; /* memory notifier calls that took pfn_lock */
	atomic64_t notify_wait_ns_max; /* the longest such a call waited for
					* pfn_lock and krammd's PFN work */
};

static struct {
	/* rec_lock protects @rec, and @rec_seq's updates. */
	spinlock_t rec_lock;
	struct ramm_dev_record rec; /* the latest record; seq 0: none yet */
	u64 rec_seq;                /* rec.seq, also read with READ_ONCE() */
	wait_queue_head_t readq;    /* readers and pollers of /dev/ramm */

	/* msg_lock protects @market. */
	spinlock_t msg_lock;
	struct ramm_market market;  /* the broker's last messages */

	/*
	 * pfn_lock protects @ranges, @n_ranges, @busy_start and @busy_end,
	 * and keeps the memmap of online memory in place: a struct page that
	 * pfn_to_online_page() returned under pfn_lock may be read until
	 * pfn_lock is dropped. That holds because offline_pages() marks the
	 * sections offline before it calls the MEM_OFFLINE notifier, which
	 * takes pfn_lock, and memory (with its memmap) is removed only after
	 * it is offline.
	 *
	 * The notifier runs under mem_hotplug_lock, so every memory block
	 * virtio-mem plugs or unplugs waits for the holder. krammd therefore
	 * holds pfn_lock for one memory block's work at a time (a scan batch,
	 * one block of the evict list, an evict step's checks), reschedules
	 * between blocks, and never holds it across alloc_contig_range() or
	 * any sleep. Taken before zone->lock; never by reclaim paths; must not
	 * be taken with zone->lock held.
	 */
	struct mutex pfn_lock;
	struct ramm_range ranges[RAMM_MAX_RANGES]; /* hotplugged, sorted */
	unsigned int n_ranges;      /* valid entries in @ranges */
	/*
	 * The memory blocks, [busy_start, busy_end) in PFNs, that krammd's
	 * alloc_contig_range() works in now, or 0, 0. Set under pfn_lock right
	 * after checking them online; so MEM_OFFLINE of those blocks waits
	 * for @busy_gen to move before their memmap may go (the call itself
	 * fails at once on the pageblocks offlining isolated).
	 */
	unsigned long busy_start, busy_end;
	u64 busy_gen;               /* bumped under pfn_lock as the call ends */
	wait_queue_head_t busy_wq;  /* MEM_OFFLINE waits here for @busy_gen */

	/*
	 * pool_lock protects @pool and @pool_pages: krammd adds pages, the
	 * shrinker and the OOM notifier give them back. Never held across an
	 * allocation; taken in any context reclaim runs in.
	 */
	spinlock_t pool_lock;
	struct list_head pool;      /* kernel-zone blocks of RAMM_POOL_ORDER
				     * krammd holds, linked by ->lru */
	unsigned long pool_pages;   /* pages in them */

	atomic64_t shrinker_calls;  /* count_objects/scan_objects calls */
	atomic64_t oom_events;      /* OOM notifier calls */
	atomic64_t event_ns;        /* first urgent event since the last
				     * record (monotonic), 0 if none */
	unsigned long events;       /* RAMM_EV_* bits (atomic bitops) */
	wait_queue_head_t thread_wq; /* krammd sleeps here */
	/*
	 * Until then (monotonic ns) an urgent record would be held back by
	 * RAMM_URGENT_GAP_NS, and krammd sleeps no longer than that, so a
	 * reclaim or OOM event need not wake it. krammd writes it (before it
	 * clears RAMM_EV_URGENT), the callbacks read it.
	 */
	u64 quiet_until_ns;

	struct task_struct *thread; /* krammd */
	struct ramm_sampler smp;    /* krammd's own */
	struct ramm_evict evict;    /* krammd's own */
	/*
	 * market.evict_gen of the last evict notice krammd took up (planned,
	 * called off or ignored); krammd's own. A record is RAMM_REC_EVICTING
	 * while a newer notice waits for krammd or evict work runs.
	 */
	u64 evict_gen_taken;

#if RAMM_SHRINKER_ALLOC
	struct shrinker *shrinker;  /* counts reclaim passes */
#else
	struct shrinker shrinker;   /* counts reclaim passes */
#endif
	struct notifier_block oom_nb; /* counts OOM kills */
	struct notifier_block mem_nb; /* tracks hotplugged memory */
	struct ramm_stats stats;      /* for tests and benchmarks */
} ramm;

/* The state of one open file of /dev/ramm. */
struct ramm_file {
	struct mutex lock;          /* serialises read() on this file */
	u64 last_seq;               /* seq of the last record read, 0: none;
				     * set under @lock, poll() reads it */
	struct ramm_dev_record buf; /* read()'s copy of the record */
};

/* --- module parameter --------------------------------------------------- */

static unsigned int interval_ms = RAMM_INTERVAL_DEFAULT_MS;

static int ramm_interval_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v < RAMM_INTERVAL_MIN_MS || v > RAMM_INTERVAL_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static const struct kernel_param_ops ramm_interval_ops = {
	.set = ramm_interval_set,
	.get = param_get_uint,
};
module_param_cb(interval_ms, &ramm_interval_ops, &interval_ms, 0644);
MODULE_PARM_DESC(interval_ms, "Sampling interval in ms (100..60000, default 1000)");

/* --- counters ------------------------------------------------------------ */

/* Raise @a to @v if @v is larger. Any context. */
static void ramm_stat_max(atomic64_t *a, u64 v)
{
	s64 old = atomic64_read(a);

	while ((u64)old < v) {
		s64 seen = atomic64_cmpxchg(a, old, (s64)v);

		if (seen == old)
			break;
		old = seen;
	}
}

/* A memory notifier call got through after waiting @waited ns. */
static void ramm_stat_notify(u64 waited)
{
	atomic64_inc(&ramm.stats.notify_calls);
	ramm_stat_max(&ramm.stats.notify_wait_ns_max, waited);
}

/*
 * The memory notifier takes pfn_lock. Returns how long another holder kept
 * it waiting: 0 when the lock was free, since a reschedule at mutex_lock()'s
 * might_sleep() is the scheduler's doing, not the lock's.
 */
static u64 ramm_notify_lock(void)
{
	u64 t0;

	if (mutex_trylock(&ramm.pfn_lock))
		return 0;
	t0 = ktime_get_ns();
	mutex_lock(&ramm.pfn_lock);
	return ktime_get_ns() - t0;
}

/* krammd takes pfn_lock; returns the time for ramm_pfn_unlock(). */
static u64 ramm_pfn_lock(void)
{
	mutex_lock(&ramm.pfn_lock);
	return ktime_get_ns();
}

/* krammd drops pfn_lock, taken at @since, and counts the hold. */
static void ramm_pfn_unlock(u64 since)
{
	ramm_stat_max(&ramm.stats.hold_ns_max, ktime_get_ns() - since);
	mutex_unlock(&ramm.pfn_lock);
}

#define RAMM_STAT_ATTR(name)						\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%llu\n",				\
			  (u64)atomic64_read(&ramm.stats.name));	\
}									\
static DEVICE_ATTR_RO(name)

RAMM_STAT_ATTR(wakeups);
RAMM_STAT_ATTR(samples);
RAMM_STAT_ATTR(scans);
RAMM_STAT_ATTR(scan_ns_last);
RAMM_STAT_ATTR(scan_ns_max);
RAMM_STAT_ATTR(scan_ns_sum);
RAMM_STAT_ATTR(hold_ns_max);
RAMM_STAT_ATTR(notify_calls);
RAMM_STAT_ATTR(notify_wait_ns_max);

/* Not a counter: the kernel-zone pool's size now. */
static ssize_t pool_kib_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(ramm.pool_pages) << (PAGE_SHIFT - 10));
}
static DEVICE_ATTR_RO(pool_kib);

static struct attribute *ramm_stat_attrs[] = {
	&dev_attr_wakeups.attr,
	&dev_attr_pool_kib.attr,
	&dev_attr_samples.attr,
	&dev_attr_scans.attr,
	&dev_attr_scan_ns_last.attr,
	&dev_attr_scan_ns_max.attr,
	&dev_attr_scan_ns_sum.attr,
	&dev_attr_hold_ns_max.attr,
	&dev_attr_notify_calls.attr,
	&dev_attr_notify_wait_ns_max.attr,
	NULL,
};

static const struct attribute_group ramm_stat_group = {
	.name = "stats",
	.attrs = ramm_stat_attrs,
};

static const struct attribute_group *ramm_attr_groups[] = {
	&ramm_stat_group,
	NULL,
};

/* --- waking krammd ------------------------------------------------------ */

/*
 * Make krammd look at its inputs again. Callable from any context but NMI:
 * it takes no lock of ours and does not sleep.
 */
static void ramm_kick(void)
{
	if (!test_and_set_bit(RAMM_EV_KICK, &ramm.events))
		wake_up(&ramm.thread_wq);
}

/*
 * Note a reclaim or OOM event: remember when the first one since the last
 * record happened (for the latency debug line) and wake krammd, but only
 * for the first event since it last read the counters, and not while an
 * urgent record would be held back anyway: reclaim calls count_objects
 * hundreds of times a second, and each wake-up would be wasted. krammd
 * wakes by itself when the hold-back ends. Any context but NMI.
 */
static void ramm_urgent_event(void)
{
	u64 now = ktime_get_ns();

	atomic64_cmpxchg(&ramm.event_ns, 0, now);
	/* Fully ordered: pairs with ramm_counters_taken(). */
	if (test_and_set_bit(RAMM_EV_URGENT, &ramm.events))
		return;
	if (now < READ_ONCE(ramm.quiet_until_ns))
		return;
	ramm_kick();
}

/*
 * krammd is about to read the event counters: the next event wakes it
 * again (unless in a hold-back, see ramm_urgent_event()).
 */
static void ramm_counters_taken(void)
{
	smp_mb__before_atomic(); /* quiet_until_ns before the bit */
	clear_bit(RAMM_EV_URGENT, &ramm.events);
	smp_mb__after_atomic();  /* the bit before the counters */
}

/* --- hotplugged ranges (pfn_lock held) ----------------------------------- */

/* Add [start, end) to ramm.ranges, merging. Must hold pfn_lock. O(ranges). */
static void ramm_ranges_add(unsigned long start, unsigned long end)
{
	struct ramm_range *r = ramm.ranges;
	unsigned int n = ramm.n_ranges, i = 0, j;

	lockdep_assert_held(&ramm.pfn_lock);
	if (start >= end)
		return;
	while (i < n && r[i].end_pfn < start)
		i++;
	for (j = i; j < n && r[j].start_pfn <= end; j++) {
		start = min(start, r[j].start_pfn);
		end = max(end, r[j].end_pfn);
	}
	if (i == j) {
		if (n == RAMM_MAX_RANGES) {
			pr_warn_once("more than %u hotplugged ranges; ignoring some\n",
				     RAMM_MAX_RANGES);
			return;
		}
		memmove(&r[i + 1], &r[i], (n - i) * sizeof(*r));
		n++;
	} else if (j - i > 1) {
		memmove(&r[i + 1], &r[j], (n - j) * sizeof(*r));
		n -= j - i - 1;
	}
	r[i].start_pfn = start;
	r[i].end_pfn = end;
	ramm.n_ranges = n;
}

/* Remove [start, end) from ramm.ranges. Must hold pfn_lock. O(ranges). */
static void ramm_ranges_del(unsigned long start, unsigned long end)
{
	struct ramm_range *r = ramm.ranges;
	unsigned int i = 0;

	lockdep_assert_held(&ramm.pfn_lock);
	while (i < ramm.n_ranges) {
		struct ramm_range *c = &r[i];

		if (c->end_pfn <= start || c->start_pfn >= end) {
			i++;
			continue;
		}
		if (c->start_pfn < start && c->end_pfn > end) {
			/* Split in two. */
			if (ramm.n_ranges == RAMM_MAX_RANGES) {
				/* No room: drop the upper part too. */
				pr_warn_once("more than %u hotplugged ranges; ignoring some\n",
					     RAMM_MAX_RANGES);
				c->end_pfn = start;
				return;
			}
			memmove(&r[i + 2], &r[i + 1],
				(ramm.n_ranges - i - 1) * sizeof(*r));
			r[i + 1].start_pfn = end;
			r[i + 1].end_pfn = c->end_pfn;
			c->end_pfn = start;
			ramm.n_ranges++;
			return;
		}
		if (c->start_pfn < start) {
			c->end_pfn = start;
			i++;
		} else if (c->end_pfn > end) {
			c->start_pfn = end;
			i++;
		} else {
			memmove(c, c + 1, (ramm.n_ranges - i - 1) * sizeof(*r));
			ramm.n_ranges--;
		}
	}
}

/* Whether @pfn lies in a tracked range. Must hold pfn_lock. O(log ranges). */
static bool ramm_ranges_contain(unsigned long pfn)
{
	unsigned int lo = 0, hi = ramm.n_ranges;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (pfn < ramm.ranges[mid].start_pfn)
			hi = mid;
		else if (pfn >= ramm.ranges[mid].end_pfn)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Resources that are driver-managed System RAM: virtio-mem's (or kmem's). */
#define RAMM_RES_FLAGS (IORESOURCE_SYSTEM_RAM | IORESOURCE_SYSRAM_DRIVER_MANAGED)

/* walk_iomem_res_desc() callback: track @res (already clipped). */
static int ramm_res_add(struct resource *res, void *arg)
{
	ramm_ranges_add(PFN_UP(res->start), PFN_DOWN(res->end + 1));
	return 0;
}

/*
 * Memory notifier. Memory comes and goes in memory blocks; only memory in
 * driver-managed resources (virtio-mem's) is tracked.
 */
static int ramm_mem_notify(struct notifier_block *nb, unsigned long action,
			   void *arg)
{
	const struct memory_notify *mn = arg;
	unsigned long start = mn->start_pfn, end = mn->start_pfn + mn->nr_pages;
	u64 waited, t0;

	switch (action) {
	case MEM_ONLINE:
		ramm_stat_notify(ramm_notify_lock());
		walk_iomem_res_desc(IORES_DESC_NONE, RAMM_RES_FLAGS,
				    PFN_PHYS(start), PFN_PHYS(end) - 1, NULL,
				    ramm_res_add);
		mutex_unlock(&ramm.pfn_lock);
		ramm_kick();
		break;
	case MEM_OFFLINE: {
		bool busy;
		u64 gen;

		/*
		 * Taking pfn_lock waits for krammd to stop reading these
		 * struct pages; the busy range for it to leave
		 * alloc_contig_range() on them (see struct ramm).
		 */
		waited = ramm_notify_lock();
		ramm_ranges_del(start, end);
		busy = ramm.busy_start < end && start < ramm.busy_end;
		gen = ramm.busy_gen;
		mutex_unlock(&ramm.pfn_lock);
		if (busy) {
			t0 = ktime_get_ns();
			wait_event(ramm.busy_wq, READ_ONCE(ramm.busy_gen) != gen);
			waited += ktime_get_ns() - t0;
		}
		ramm_stat_notify(waited);
		ramm_kick();
		break;
	}
	default:
		break;
	}
	return NOTIFY_OK;
}

/* --- free-extent histogram ------------------------------------------- */

/*
 * The order of the free buddy block that starts at @page, or -1 if @page
 * does not start one. Must hold the page's zone->lock.
 */
static int ramm_buddy_order(struct page *page)
{
	unsigned long order;

	if (!PageBuddy(page))
		return -1;
	order = page_private(page);
	return order <= RAMM_MAX_BUDDY_ORDER ? (int)order : -1;
}

/*
 * Whether the current evict work holds the chunk at @pfn: it is free as
 * far as the broker goes (given back whole before virtio-mem unplugs it).
 * krammd only. O(1).
 */
static bool ramm_evict_holds(unsigned long pfn)
{
	const struct ramm_evict *ev = &ramm.evict;
	unsigned long bit = (pfn >> RAMM_CHUNK_ORDER) - ev->held_base;

	return ev->held_map && !(pfn & (RAMM_CHUNK_PAGES - 1)) &&
	       (pfn >> RAMM_CHUNK_ORDER) >= ev->held_base &&
	       bit < ev->held_bits && test_bit(bit, ev->held_map);
}

/* Running state of one free-extent scan. */
struct ramm_scan {
	unsigned long last_chunk; /* index (pfn >> order) of the last chunk seen */
	unsigned long run_all;    /* free chunks in a row ending at last_chunk */
	unsigned long run_vmem;   /* ... of them in hotplugged ranges */
	u64 vmem_chunks;          /* online, plugged chunks in hotplugged ranges */
	u64 *hist_all;            /* the record's hist_all */
	u64 *hist_vmem;           /* the record's hist_vmem */
};

/*
 * Account chunk @chunk (absolute index, pfn >> RAMM_CHUNK_ORDER). Chunks
 * must come in increasing order for runs to be counted; a gap ends a run.
 * An aligned extent of 2^i chunks is free when the run ending at its last
 * chunk is at least 2^i long.
 */
static void ramm_scan_chunk(struct ramm_scan *s, unsigned long chunk,
			    bool in_vmem, bool free)
{
	unsigned int i;

	if (chunk != s->last_chunk + 1)
		s->run_all = s->run_vmem = 0;
	s->last_chunk = chunk;
	s->run_all = free ? s->run_all + 1 : 0;
	s->run_vmem = free && in_vmem ? s->run_vmem + 1 : 0;
	for (i = 0; i < RAMM_HIST_SIZES; i++) {
		unsigned long len = 1UL << i;

		if ((chunk + 1) & (len - 1))
			break; /* not the end of an aligned 2^i (nor 2^(i+1)) */
		if (s->run_all >= len)
			s->hist_all[i]++;
		if (s->run_vmem >= len)
			s->hist_vmem[i]++;
	}
}

/*
 * Scan one zone at chunk-aligned PFNs, RAMM_SCAN_BATCH chunks per hold of
 * pfn_lock and zone->lock, rescheduling in between; memory that goes
 * offline meanwhile is a hole. A chunk is free when its first page starts
 * a free buddy block of order >= RAMM_CHUNK_ORDER; a block of higher order
 * covers several chunks. Must not hold pfn_lock. O(zone span / 2 MiB).
 */
static void ramm_scan_zone(struct zone *zone, struct ramm_scan *s)
{
	unsigned long pfn = ALIGN(zone->zone_start_pfn, RAMM_CHUNK_PAGES);
	unsigned long end = zone_end_pfn(zone);
	unsigned long flags;
	unsigned int batch;
	u64 held;

	while (pfn + RAMM_CHUNK_PAGES <= end) {
		held = ramm_pfn_lock();
		spin_lock_irqsave(&zone->lock, flags);
		for (batch = 0; batch < RAMM_SCAN_BATCH &&
		     pfn + RAMM_CHUNK_PAGES <= end; batch++) {
			struct page *page = pfn_to_online_page(pfn);
			unsigned long k, n = 1;
			int order;

			if (!page || page_zone(page) != zone) {
				pfn += RAMM_CHUNK_PAGES; /* a hole: ends runs */
				continue;
			}
			order = ramm_buddy_order(page);
			if (order >= (int)RAMM_CHUNK_ORDER)
				n = 1UL << (order - RAMM_CHUNK_ORDER);
			for (k = 0; k < n && pfn + RAMM_CHUNK_PAGES <= end; k++) {
				bool vm = ramm_ranges_contain(pfn);
				bool free = order >= (int)RAMM_CHUNK_ORDER ||
					    ramm_evict_holds(pfn);

				/* Unplugged virtio-mem blocks are PageOffline. */
				if (vm && (free || !PageOffline(page)))
					s->vmem_chunks++;
				ramm_scan_chunk(s, pfn >> RAMM_CHUNK_ORDER, vm, free);
				pfn += RAMM_CHUNK_PAGES;
			}
		}
		spin_unlock_irqrestore(&zone->lock, flags);
		ramm_pfn_unlock(held);
		cond_resched();
	}
}

/*
 * Fill @r's histograms and vmem_online_kib. Zones are walked node by node
 * in PFN order, so a free extent that spans a zone boundary is counted when
 * the zones are adjacent. Exact when nothing allocates, frees or goes
 * offline meanwhile; pages parked on per-CPU free lists count as used.
 * Takes pfn_lock batch by batch: must not hold it.
 */
static void ramm_scan(struct ramm_dev_record *r)
{
	struct ramm_scan s = {
		.last_chunk = ULONG_MAX - 1, /* no chunk follows it */
		.hist_all = r->hist_all,
		.hist_vmem = r->hist_vmem,
	};
	u64 t0 = ktime_get_ns(), t;
	int nid, z;

	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &pgdat->node_zones[z];

			if (populated_zone(zone))
				ramm_scan_zone(zone, &s);
		}
	}
	t = ktime_get_ns() - t0;
	atomic64_inc(&ramm.stats.scans);
	atomic64_set(&ramm.stats.scan_ns_last, t);
	atomic64_add(t, &ramm.stats.scan_ns_sum);
	ramm_stat_max(&ramm.stats.scan_ns_max, t);
	r->vmem_online_kib = s.vmem_chunks * (RAMM_CHUNK_BYTES >> 10);
}

/* --- bid model ------------------------------------------------------------ */

/* One sample, as the bid model sees it (bytes). */
struct ramm_bid_in {
	u64 total;          /* totalram */
	u64 avail;          /* si_mem_available(), at most @total */
	u64 reserve;        /* boot reserve from the welcome */
	u64 unit;           /* market unit */
	u64 floor;          /* floor, physical */
	u64 cap;            /* cap, physical */
	u64 rise;           /* working-set growth expected RAMM_RISE_LEAD_MS ahead */
	bool short_mem;     /* under pressure, or running out: bid the
			     * short tier */
	u32 short_price;    /* its price */
};

/* Units above @floor needed to reach @target, rounded up, at most @cap_units. */
static u32 ramm_units_above(u64 target, u64 floor, u64 unit, u32 cap_units)
{
	u64 u;

	if (target <= floor)
		return 0;
	u = div64_u64(target - floor + unit - 1, unit);
	return u > cap_units ? cap_units : (u32)u;
}

/*
 * The bid curve for @in into @steps (RAMM_MAX_BID_STEPS entries); returns
 * the number of steps. guest-agent/bid_model.c's tiers in integer math:
 * targets in bytes of managed memory, raised by the boot reserve, turned
 * into units above the floor and clipped to (cap - floor) / unit. Walking
 * from the dearest tier down, each bids for the units between the previous
 * tier's reach and its own, so prices strictly decrease. O(1).
 */
static unsigned int ramm_bid(const struct ramm_bid_in *in,
			     struct ramm_bid_step *steps)
{
	struct {
		u64 target; /* managed bytes wanted at this price */
		u32 price;  /* per unit per tick */
	} tiers[RAMM_BID_TIERS];
	u64 wss = in->total - in->avail, cap_units64, need;
	unsigned int nt = 0, ns = 0, i;
	u32 cap_units, covered = 0;

	if (in->total == 0 || in->total > RAMM_MAX_BYTES ||
	    in->reserve > RAMM_MAX_BYTES || in->rise > RAMM_MAX_BYTES ||
	    in->floor > in->cap)
		return 0;
	cap_units64 = div64_u64(in->cap - in->floor, in->unit);
	cap_units = cap_units64 > U32_MAX ? U32_MAX : (u32)cap_units64;

	/* At exactly wss nothing is available: the margin is the watermarks. */
	tiers[nt].target = wss + wss / 64 + 32 * RAMM_MIB;
	tiers[nt++].price = RAMM_PRICE_IN_USE;
	need = wss + wss / 10 + 64 * RAMM_MIB + in->rise;
	if (in->short_mem) {
		/* Short, it asks for what it needs at that price too: a
		 * workload running out reaches past a quarter more. */
		tiers[nt].target = max(in->total + in->total / 4, need);
		tiers[nt++].price = in->short_price;
	}
	tiers[nt].target = need;
	tiers[nt++].price = RAMM_PRICE_NEED;
	tiers[nt].target = wss + wss / 2;
	tiers[nt++].price = RAMM_PRICE_COMFORT;
	tiers[nt].target = 2 * wss;
	tiers[nt++].price = RAMM_PRICE_SPARE;

	for (i = 0; i < nt && ns < RAMM_MAX_BID_STEPS; i++) {
		u32 u = ramm_units_above(in->reserve + tiers[i].target,
					 in->floor, in->unit, cap_units);

		if (u <= covered)
			continue;
		steps[ns].units = u - covered;
		steps[ns].price = tiers[i].price;
		ns++;
		covered = u;
	}
	return ns;
}

/* --- sampling ----------------------------------------------------------- */

/*
 * Read what the kernel zones and ZONE_MOVABLE have left into @k. A kernel
 * allocation may fall back from ZONE_NORMAL to DMA32 and DMA only above
 * their lowmem reserve for ZONE_NORMAL, so that is not usable either.
 * Lockless reads of counters: a snapshot that may be a little stale.
 */
static void ramm_kzone_read(struct ramm_kzone *k)
{
	u64 managed = 0;
	int nid, z;

	memset(k, 0, sizeof(*k));
	for_each_online_node(nid) {
		pg_data_t *pgdat = NODE_DATA(nid);

		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &pgdat->node_zones[z];
			long free = zone_page_state(zone, NR_FREE_PAGES);
			long keep = high_wmark_pages(zone);

			if (!populated_zone(zone) || z > ZONE_MOVABLE)
				continue;
			if (z == ZONE_MOVABLE) {
				if (free > keep)
					k->movable_usable += (u64)(free - keep) << PAGE_SHIFT;
				continue;
			}
			managed += zone_managed_pages(zone);
			if (z < ZONE_NORMAL)
				keep += zone->lowmem_reserve[ZONE_NORMAL];
			if (free > keep)
				k->usable += (u64)(free - keep) << PAGE_SHIFT;
		}
	}
	k->low = clamp_t(u64, (managed << PAGE_SHIFT) / RAMM_KZONE_LOW_DIV,
			 RAMM_KZONE_LOW_MIN, RAMM_KZONE_LOW_MAX);
	k->pool = (u64)READ_ONCE(ramm.pool_pages) << PAGE_SHIFT;
}

/*
 * Whether kernel allocations have less than the low mark left, pool
 * included. More memory (in ZONE_MOVABLE) keeps user pages out of the
 * kernel zones, and lets freed ones refill the pool.
 */
static bool ramm_kzone_short(const struct ramm_kzone *k)
{
	return k->usable + k->pool < k->low;
}

/* Whether @avail is below RAMM_AVAIL_SHORT_PCT of @total (any one unit). */
static bool ramm_avail_short(u64 avail, u64 total)
{
	return avail * 100 < total * RAMM_AVAIL_SHORT_PCT;
}

/* Whether available memory, or the kernel zones, are short now. Cheap. */
static bool ramm_short_now(void)
{
	long avail = si_mem_available();
	struct ramm_kzone k;

	ramm_kzone_read(&k);
	return ramm_kzone_short(&k) ||
	       ramm_avail_short(avail > 0 ? (u64)avail : 0, totalram_pages());
}

/* @n events over @ns nanoseconds, per second. */
static u64 ramm_per_sec(u64 n, u64 ns)
{
	if (!ns)
		return 0;
	if (n > U64_MAX / NSEC_PER_SEC)
		return U64_MAX / ns;
	return div64_u64(n * NSEC_PER_SEC, ns);
}

/* Anonymous and shmem memory now: what workloads allocate. Cheap. */
static u64 ramm_anon_bytes(void)
{
	return (global_node_page_state(NR_ANON_MAPPED) +
		global_node_page_state(NR_SHMEM)) << PAGE_SHIFT;
}

/*
 * Whether anon + shmem rose at RAMM_SURGE_BYTES_PER_S or faster since the
 * check before this one (at least half a check apart, or a record just
 * after a check would divide by nothing; a closer check keeps the last
 * answer), into @s->rising; @s->calm_anon follows anon + shmem while it
 * does not.
 */
static bool ramm_rising(struct ramm_sampler *s, u64 now, u64 anon)
{
	u64 span = s->check_ns ? now - s->check_ns : 0;

	if (span && span < RAMM_AVAIL_CHECK_NS / 2)
		return s->rising;
	s->rising = span && anon > s->check_anon &&
		    ramm_per_sec(anon - s->check_anon, span) >= RAMM_SURGE_BYTES_PER_S;
	if (!s->rising)
		s->calm_anon = anon;
	s->check_ns = now;
	s->check_anon = anon;
	return s->rising;
}

/*
 * Whether anon + shmem surged (see RAMM_SURGE_BYTES_PER_S), and no surge
 * made a record urgent lately: it grew by RAMM_SURGE_MIN_BYTES since the
 * previous record at the rate over the time since it, or since it last
 * rose slower, at the rate over the last check (ramm_rising()). The rate
 * since the record alone missed a workload that starts late in a quiet
 * interval: it averages under the mark over the whole of it. In the soak
 * one started 0.6 s into an interval while its guest was being unplugged,
 * and was first heard of by the periodic record 1.1 s in, after the unplug
 * it could have stopped had taken all it asked. And while it rises,
 * records come every RAMM_RISING_RECORD_NS, each too close to the last for
 * RAMM_SURGE_MIN_BYTES.
 */
static bool ramm_surging(struct ramm_sampler *s, u64 now)
{
	u64 anon = ramm_anon_bytes(), calm_anon = s->calm_anon;
	bool rising = ramm_rising(s, now, anon);

	if (!s->last_ns || (s->surge_ns && now - s->surge_ns < RAMM_SURGE_GAP_NS))
		return false;
	if (rising && anon >= calm_anon + RAMM_SURGE_MIN_BYTES)
		return true;
	return anon >= s->last_anon + RAMM_SURGE_MIN_BYTES &&
	       ramm_per_sec(anon - s->last_anon, now - s->last_ns) >= RAMM_SURGE_BYTES_PER_S;
}

/* Events since the previous record that warrant an urgent one. */
static bool ramm_urgent_pending(void)
{
	struct ramm_sampler *s = &ramm.smp;

	return (u64)atomic64_read(&ramm.shrinker_calls) != s->last_shrinker ||
	       (u64)atomic64_read(&ramm.oom_events) != s->last_oom ||
	       s->short_edge || s->surge_edge;
}

/*
 * Follow how fast @wss rises: over spans of at least RAMM_RISE_MIN_MS (an
 * urgent record may come a millisecond after the last), the faster of the
 * span's rise and half the previous figure, none below
 * RAMM_RISE_MIN_KIB_S. A falling working set only lets the figure decay,
 * and starts a short span again at the fall: a workload that exits and
 * starts again at once rises from there, not from the level it left.
 */
static void ramm_rise_update(struct ramm_sampler *s, u64 now, u64 wss)
{
	u64 span = now - s->rise_ns, up = 0;

	if (!s->rise_ns) {
		s->rise_ns = now;
		s->rise_wss = wss;
		return;
	}
	if (span < (u64)RAMM_RISE_MIN_MS * NSEC_PER_MSEC) {
		if (wss < s->rise_wss) {
			s->rise_ns = now;
			s->rise_wss = wss;
		}
		return;
	}
	if (wss > s->rise_wss)
		up = ramm_per_sec(wss - s->rise_wss, span);
	s->rise_bps = max(up, s->rise_bps / 2);
	if (s->rise_bps < (u64)RAMM_RISE_MIN_KIB_S << 10)
		s->rise_bps = 0;
	s->rise_ns = now;
	s->rise_wss = wss;
}

/*
 * The boot reserve, physical memory the kernel does not manage, for a
 * record whose totalram was @total before its scan and @total_after it,
 * with @vmem managed in virtio-mem's ranges. Told the host's boot memory,
 * it is that less what the kernel manages outside virtio-mem, read anew at
 * every record. A welcome's size does not serve: it is the host's view when
 * the broker sent it, and a resize sent just after it (the next step of a
 * growth) may be plugged and onlined by the time it is read, which once
 * left a lab guest bidding for 80 MiB less than it used for good. A plug
 * or unplug during the scan keeps the last figure. Without the boot
 * memory, the smallest welcome reading.
 */
static u64 ramm_reserve(const struct ramm_market *m, u64 last, u64 total,
			u64 total_after, u64 vmem)
{
	u64 boot_managed;

	if (!m->boot_bytes)
		return m->reserve_bytes;
	if (total != total_after && last)
		return last;
	boot_managed = total > vmem ? total - vmem : 0;
	return m->boot_bytes > boot_managed ? m->boot_bytes - boot_managed : 0;
}

/*
 * Sample everything, build a record and publish it. Called by krammd only.
 * O(memory / 2 MiB) for the scan; sleeps.
 */
static void ramm_publish(u64 now, bool urgent)
{
	struct ramm_sampler *s = &ramm.smp;
	struct ramm_dev_record *r = &s->rec;
	struct ramm_bid_in in = { 0 };
	struct ramm_kzone kz;
	struct ramm_market m;
	struct sysinfo si;
	u64 shr, oom, refaults, elapsed, rate, ewma, pm, ev_ns, held;
	bool jump, avail_low;
	long avail;

	memset(r, 0, sizeof(*r));
	r->version = RAMM_DEV_VERSION;
	r->size = sizeof(*r);
	r->timestamp_ns = now;

	/* Chunks held for an evict are free memory borrowed for a moment:
	 * counted free, or the bid would rise against the shrink. */
	held = (u64)ramm.evict.n_held * RAMM_CHUNK_BYTES;
	si_meminfo(&si);
	avail = si_mem_available();
	in.total = (u64)si.totalram * si.mem_unit;
	in.avail = avail > 0 ? ((u64)avail << PAGE_SHIFT) + held : held;
	if (in.avail > in.total)
		in.avail = in.total;
	r->mem_total_kib = in.total >> 10;
	r->mem_free_kib = min(((u64)si.freeram * si.mem_unit + held),
			      in.total) >> 10;
	r->mem_available_kib = in.avail >> 10;
	r->refault_anon = global_node_page_state(WORKINGSET_REFAULT_ANON);
	r->refault_file = global_node_page_state(WORKINGSET_REFAULT_FILE);
	ramm_counters_taken();
	shr = atomic64_read(&ramm.shrinker_calls);
	oom = atomic64_read(&ramm.oom_events);
	r->shrinker_scans = shr;
	r->oom_events = oom;
	ramm_scan(r);

	/* Rates over the time since the previous record. */
	elapsed = s->last_ns ? now - s->last_ns :
		  (u64)READ_ONCE(interval_ms) * NSEC_PER_MSEC;
	refaults = r->refault_anon + r->refault_file;
	rate = ramm_per_sec(s->last_ns ? refaults - s->last_refaults : 0,
			    elapsed);
	ewma = s->refault_ewma_pps;
	jump = rate >= RAMM_REFAULT_MIN_PPS &&
	       rate >= RAMM_REFAULT_JUMP_FACTOR * ewma;
	s->refault_ewma_pps = ewma - (ewma >> RAMM_REFAULT_EWMA_SHIFT) +
			      (rate >> RAMM_REFAULT_EWMA_SHIFT);

	ramm_rise_update(s, now, in.total - in.avail);
	in.rise = min(mul_u64_u64_div_u64(s->rise_bps, RAMM_RISE_LEAD_MS, MSEC_PER_SEC),
		      in.total);

	if (shr != s->last_shrinker)
		r->flags |= RAMM_REC_SHRINKER;
	if (oom != s->last_oom)
		r->flags |= RAMM_REC_OOM;
	if (urgent)
		r->flags |= RAMM_REC_URGENT;

	ramm_kzone_read(&kz);
	r->kernel_free_kib = (kz.usable + kz.pool) >> 10;
	avail_low = ramm_avail_short(in.avail, in.total);
	s->was_short = avail_low || ramm_kzone_short(&kz);
	s->short_edge = false;
	if (urgent && s->surge_edge)
		s->surge_ns = now;
	s->surge_edge = false;
	s->last_anon = ramm_anon_bytes();
	/* Running out: the rise fills what is available before a grant
	 * decided on this record can land, so the guest is short now,
	 * however much is available this moment. */
	if (s->was_short || jump || shr != s->last_shrinker ||
	    oom != s->last_oom || in.rise > in.avail) {
		/*
		 * 2000 * (1 + lack + reclaim + refault + oom), below 8000,
		 * with lack = (8% - avail/total) / 8%, in one division so it
		 * truncates like bid_model.c. In KiB (exact: both are whole
		 * pages), num < 2^56.
		 */
		u64 den = (in.total >> 10) * RAMM_AVAIL_SHORT_PCT;
		u64 extra = 0, num;

		extra += min_t(u64, ramm_per_sec(shr - s->last_shrinker, elapsed),
			       RAMM_SHORT_RECLAIM_MAX) * RAMM_SHORT_RECLAIM_PM;
		if (jump)
			extra += RAMM_SHORT_REFAULT_PM;
		if (oom != s->last_oom)
			extra += RAMM_SHORT_OOM_PM;
		num = (1000 + extra) * den;
		if (avail_low)
			num += 1000 * (den - (in.avail >> 10) * 100);
		pm = mul_u64_u64_div_u64(num, RAMM_PRICE_SHORT, 1000 * den);
		in.short_price = pm >= RAMM_PRICE_IN_USE ?
				 RAMM_PRICE_IN_USE - 1 : (u32)pm;
		in.short_mem = true;
	}

	spin_lock(&ramm.msg_lock);
	m = ramm.market;
	spin_unlock(&ramm.msg_lock);
	/* A notice not taken up yet is as unfinished as one being worked. */
	r->evict_id = m.evict_id;
	if (m.evict_gen != ramm.evict_gen_taken || ramm.evict.pfns)
		r->flags |= RAMM_REC_EVICTING;
	if (m.welcomed) {
		in.unit = m.unit_bytes;
		in.floor = m.floor_bytes;
		in.cap = m.cap_bytes;
		s->reserve = ramm_reserve(&m, s->reserve, in.total,
					  (u64)totalram_pages() << PAGE_SHIFT,
					  (u64)r->vmem_online_kib << 10);
		in.reserve = s->reserve;
		r->flags |= RAMM_REC_WELCOMED;
		r->unit_bytes = m.unit_bytes;
		r->n_bid = ramm_bid(&in, r->bid);
	}

	s->last_ns = now;
	s->last_shrinker = shr;
	s->last_oom = oom;
	s->last_refaults = refaults;

	spin_lock(&ramm.rec_lock);
	r->seq = ramm.rec_seq + 1;
	ramm.rec = *r;
	WRITE_ONCE(ramm.rec_seq, r->seq);
	spin_unlock(&ramm.rec_lock);
	atomic64_inc(&ramm.stats.samples);
	wake_up_interruptible_poll(&ramm.readq, EPOLLIN | EPOLLRDNORM |
				   (urgent ? EPOLLPRI : 0));

	/* Events after @now belong to the next record. */
	ev_ns = atomic64_read(&ramm.event_ns);
	if (ev_ns && ev_ns <= now &&
	    atomic64_cmpxchg(&ramm.event_ns, ev_ns, 0) == ev_ns && urgent)
		pr_debug("record %llu urgent (%s%s), published %llu us after the first event\n",
			 r->seq, r->flags & RAMM_REC_SHRINKER ? "S" : "",
			 r->flags & RAMM_REC_OOM ? "O" : "",
			 div64_u64(ktime_get_ns() - ev_ns, NSEC_PER_USEC));
}

/* --- evict notice ------------------------------------------------------ */

/*
 * Why this helps virtio-mem (docs/KERNEL-AGENT.md has the measurements):
 * virtio-mem unplugs online memory in a fixed order -- partially plugged
 * memory blocks first, ZONE_MOVABLE before other zones, each from the
 * highest block down and inside a block from the highest subblock down --
 * and fake-offlines every subblock with alloc_contig_range(), which must
 * first migrate every used page out. On an evict notice krammd lists the
 * chunks virtio-mem will take, in that order, and takes them itself with
 * alloc_contig_range(), starting with the one virtio-mem reaches last. It
 * keeps each chunk it took, so that later migrations (its own and anyone
 * else's) cannot land in the range again, and gives them all back to the
 * buddy allocator at once when the list is done. virtio-mem then finds
 * free memory and needs no migration. Calls take 2 MiB first and double up
 * to RAMM_EVICT_BATCH chunks, so little is done before the first look.
 *
 * virtio-mem cannot take a chunk krammd holds (it would skip it as busy),
 * so krammd gets out of its way: it gives everything back and stops as
 * soon as virtio-mem shows signs of work -- pageblocks isolated in the
 * zone, managed pages going down, or a listed chunk already unplugged --
 * or when available memory runs short, or at the notice's deadline.
 */

/*
 * Whether pageblocks in @zone are isolated now, i.e. someone else runs
 * alloc_contig_range() or offlines memory there: free pages of isolated
 * pageblocks sit on the MIGRATE_ISOLATE free lists. Takes zone->lock.
 */
static bool ramm_zone_isolating(struct zone *zone)
{
	bool busy = false;
#ifdef CONFIG_MEMORY_ISOLATION
	unsigned long flags;
	unsigned int order;

	spin_lock_irqsave(&zone->lock, flags);
	for (order = 0; order <= RAMM_MAX_BUDDY_ORDER && !busy; order++)
		busy = !list_empty(&zone->free_area[order].free_list[MIGRATE_ISOLATE]);
	spin_unlock_irqrestore(&zone->lock, flags);
#endif
	return busy;
}

/*
 * virtio-mem's class of a memory block [start, end): 0 ZONE_MOVABLE and
 * partially plugged, 1 other zone and partial, 2 movable and fully
 * plugged, 3 other and full, or -1 for nothing plugged and online. Must
 * hold pfn_lock.
 */
static int ramm_block_class(unsigned long start, unsigned long end)
{
	bool plugged = false, partial = false, movable = false;
	unsigned long pfn;

	for (pfn = ALIGN(start, RAMM_CHUNK_PAGES);
	     pfn + RAMM_CHUNK_PAGES <= end; pfn += RAMM_CHUNK_PAGES) {
		struct page *page = pfn_to_online_page(pfn);

		if (!page)
			continue;
		if (PageOffline(page)) {
			partial = true;
			continue;
		}
		if (!plugged)
			movable = page_zonenum(page) == ZONE_MOVABLE;
		plugged = true;
	}
	if (!plugged)
		return -1;
	return (partial ? 0 : 2) + (movable ? 0 : 1);
}

/*
 * Append the plugged chunks of [start, end), highest first, to @out (which
 * holds @n of @want). Returns the new count. Must hold pfn_lock.
 */
static unsigned int ramm_collect_block(unsigned long *out, unsigned int n,
				       unsigned int want, unsigned long start,
				       unsigned long end)
{
	unsigned long pfn = ALIGN_DOWN(end, RAMM_CHUNK_PAGES);

	while (n < want && pfn >= start + RAMM_CHUNK_PAGES) {
		struct page *page;

		pfn -= RAMM_CHUNK_PAGES;
		page = pfn_to_online_page(pfn);
		if (page && !PageOffline(page))
			out[n++] = pfn;
	}
	return n;
}

/*
 * The first @want chunks virtio-mem will unplug from online memory, in its
 * order, into @out. Returns how many were found. Works on the ranges
 * tracked when it starts (a copy in ramm.evict), one memory block per hold
 * of pfn_lock with a reschedule after each; a block that goes offline
 * meanwhile has no online page and is skipped. Must not hold pfn_lock.
 * krammd only. O(hotplugged memory / 2 MiB).
 */
static unsigned int ramm_evict_collect(unsigned long *out, unsigned int want)
{
	unsigned long mb = memory_block_size_bytes() >> PAGE_SHIFT;
	struct ramm_range *ranges = ramm.evict.ranges;
	unsigned int n = 0, n_ranges, ri;
	u64 held;
	int pass;

	held = ramm_pfn_lock();
	n_ranges = ramm.n_ranges;
	memcpy(ranges, ramm.ranges, n_ranges * sizeof(*ranges));
	ramm_pfn_unlock(held);

	for (pass = 0; pass < 4 && n < want; pass++) {
		for (ri = n_ranges; ri-- > 0 && n < want;) {
			const struct ramm_range *r = &ranges[ri];
			unsigned long blk = ALIGN_DOWN(r->end_pfn - 1, mb);

			for (;;) {
				unsigned long s = max(blk, r->start_pfn);
				unsigned long e = min(blk + mb, r->end_pfn);

				held = ramm_pfn_lock();
				if (ramm_block_class(s, e) == pass)
					n = ramm_collect_block(out, n, want, s, e);
				ramm_pfn_unlock(held);
				cond_resched();
				if (blk <= r->start_pfn || n >= want)
					break;
				blk -= mb;
			}
		}
	}
	return n;
}

/*
 * krammd's alloc_contig_range() on ramm.busy_* returned: let a MEM_OFFLINE
 * waiting for it go on.
 */
static void ramm_pfn_unbusy(void)
{
	u64 held = ramm_pfn_lock();

	ramm.busy_start = ramm.busy_end = 0;
	WRITE_ONCE(ramm.busy_gen, ramm.busy_gen + 1);
	ramm_pfn_unlock(held);
	wake_up_all(&ramm.busy_wq);
}

/*
 * Give back every chunk the current evict work holds. No pfn_lock needed:
 * memory with pages krammd holds cannot finish going offline, so their
 * memmap stays.
 */
static void ramm_evict_release(void)
{
	struct ramm_evict *ev = &ramm.evict;
	unsigned int i;

	for (i = 0; i < ev->n; i++) {
		if (ev->pfns[i] & RAMM_EVICT_HELD) {
			ev->pfns[i] &= ~RAMM_EVICT_HELD;
			free_contig_range(ev->pfns[i], RAMM_CHUNK_PAGES);
		}
	}
	ev->n_held = 0;
	if (ev->held_map)
		bitmap_zero(ev->held_map, ev->held_bits);
}

/*
 * Size the map of held chunks to the listed ones, ev->pfns[0, n). On
 * failure the map stays NULL: held chunks then show as used. krammd only.
 */
static void ramm_evict_map_alloc(struct ramm_evict *ev)
{
	unsigned long lo = ULONG_MAX, hi = 0, c;
	unsigned int i;

	for (i = 0; i < ev->n; i++) {
		c = ev->pfns[i] >> RAMM_CHUNK_ORDER;
		lo = min(lo, c);
		hi = max(hi, c);
	}
	if (!ev->n)
		return;
	ev->held_map = kvcalloc(BITS_TO_LONGS(hi - lo + 1), sizeof(long),
				GFP_KERNEL | __GFP_NOWARN);
	if (!ev->held_map)
		return;
	ev->held_base = lo;
	ev->held_bits = hi - lo + 1;
}

/* Mark listed chunk @i held, in @ev->held_map too. krammd only. */
static void ramm_evict_hold(struct ramm_evict *ev, unsigned int i)
{
	unsigned long pfn = ev->pfns[i];

	ev->pfns[i] |= RAMM_EVICT_HELD;
	ev->n_held++;
	if (ev->held_map)
		set_bit((pfn >> RAMM_CHUNK_ORDER) - ev->held_base, ev->held_map);
}

/* End the current evict work: give its chunks back and log what it did. */
static void ramm_evict_finish(const char *why)
{
	struct ramm_evict *ev = &ramm.evict;

	if (!ev->pfns)
		return;
	ramm_evict_release();
	pr_info("evict %llu units (id %llu): %u chunks listed, %u were free, %u emptied, %u busy, %u not reached; %s after %llu ms\n",
		ev->units, ev->id, ev->n, ev->n_free, ev->n_cleared, ev->n_busy,
		ev->cursor, why,
		div64_u64(ktime_get_ns() - ev->start_ns, NSEC_PER_MSEC));
	kvfree(ev->pfns);
	kvfree(ev->held_map);
	memset(ev, 0, sizeof(*ev));
	/* A record now shows the broker the chunks free (hist_vmem). */
	set_bit(RAMM_EV_PUBLISH, &ramm.events);
}

/*
 * Plan the work for the evict notice that just arrived. krammd only.
 * Whatever happens here, the notice counts as taken up: a record after it
 * is RAMM_REC_EVICTING only if work was planned.
 */
static void ramm_evict_plan(u64 now)
{
	struct ramm_evict *ev = &ramm.evict;
	u64 units, unit, deadline_ms, rx_ns, bytes, want, id, gen;
	bool welcomed;

	spin_lock(&ramm.msg_lock);
	units = ramm.market.evict_units;
	deadline_ms = ramm.market.evict_deadline_ms;
	rx_ns = ramm.market.evict_rx_ns;
	id = ramm.market.evict_id;
	gen = ramm.market.evict_gen;
	unit = ramm.market.unit_bytes;
	welcomed = ramm.market.welcomed;
	spin_unlock(&ramm.msg_lock);

	/* Taken up already: a second write raced the wake-up of the first. */
	if (gen == ramm.evict_gen_taken)
		return;
	ramm.evict_gen_taken = gen;
	/* Whatever comes of it, the next record speaks for this notice. */
	set_bit(RAMM_EV_PUBLISH, &ramm.events);

	/* The broker stopped the shrink, or its request failed: the chunks
	 * are given back and nothing more is emptied. */
	if (!units) {
		ramm_evict_finish("called off");
		return;
	}
	ramm_evict_finish("superseded");
	if (!welcomed) {
		pr_info("evict %llu units (id %llu) before a welcome: no unit, ignored\n",
			units, id);
		return;
	}
	bytes = units > U64_MAX / unit ? U64_MAX : units * unit;
	want = min_t(u64, DIV_ROUND_UP_ULL(bytes, RAMM_CHUNK_BYTES),
		     RAMM_EVICT_MAX_CHUNKS);
	ev->pfns = kvmalloc_array(want, sizeof(*ev->pfns), GFP_KERNEL);
	if (!ev->pfns) {
		pr_warn("evict %llu units: out of memory, ignored\n", units);
		return;
	}
	ev->units = units;
	ev->id = id;
	ev->start_ns = now;
	ev->managed = totalram_pages();
	ev->batch = 1;
	ev->deadline_ns = rx_ns + deadline_ms * NSEC_PER_MSEC;
	ev->n = ramm_evict_collect(ev->pfns, want);
	ev->cursor = ev->n;
	ramm_evict_map_alloc(ev);
}

/*
 * Take the next chunk of the current evict work, or end it (see the
 * comment above ramm_zone_isolating()). krammd only; sleeps. O(pages in a
 * chunk).
 */
static void ramm_evict_step(u64 now)
{
	struct ramm_evict *ev = &ramm.evict;
	unsigned long mb = memory_block_size_bytes() >> PAGE_SHIFT;
	unsigned long pfn, flags;
	unsigned int k, i, n_free = 0;
	struct page *page;
	struct zone *zone;
	const char *stop = NULL;
	u64 held;
	int ret;

	if (!ev->cursor)
		stop = "done";
	else if (now > ev->deadline_ns)
		stop = "deadline";
	else if (totalram_pages() < ev->managed)
		stop = "virtio-mem started";
	else if (ramm_short_now())
		stop = "memory short";
	if (stop) {
		ramm_evict_finish(stop);
		return;
	}
	/* The next chunk, and the ones adjacent above it in its memory block. */
	pfn = ev->pfns[ev->cursor - 1];
	for (k = 1; !ev->single && k < ev->batch && k < ev->cursor; k++) {
		unsigned long next = pfn + k * RAMM_CHUNK_PAGES;

		if (ev->pfns[ev->cursor - 1 - k] != next || next / mb != pfn / mb)
			break;
	}

	held = ramm_pfn_lock();
	page = pfn_to_online_page(pfn);
	if (!page || PageOffline(page)) {
		stop = "met virtio-mem";
		goto out_unlock;
	}
	zone = page_zone(page);
	if (ramm_zone_isolating(zone)) {
		stop = "virtio-mem started";
		goto out_unlock;
	}
	/* A memory block is in one zone and online as a whole. */
	spin_lock_irqsave(&zone->lock, flags);
	for (i = 0; i < k; i++)
		if (ramm_buddy_order(pfn_to_page(pfn + i * RAMM_CHUNK_PAGES)) >=
		    (int)RAMM_CHUNK_ORDER)
			n_free++;
	spin_unlock_irqrestore(&zone->lock, flags);
	/* Migration takes long: not under pfn_lock (see struct ramm). */
	ramm.busy_start = ALIGN_DOWN(pfn, mb);
	ramm.busy_end = ramm.busy_start + mb;
	ramm_pfn_unlock(held);

	ret = alloc_contig_range(pfn, pfn + k * RAMM_CHUNK_PAGES,
				 RAMM_CONTIG_MODE, GFP_KERNEL | __GFP_NOWARN);
	ramm_pfn_unbusy();
	if (!ret) {
		for (i = 0; i < k; i++)
			ramm_evict_hold(ev, --ev->cursor);
		ev->n_free += n_free;
		ev->n_cleared += k - n_free;
		if (ev->single)
			ev->single--;
		/* Slow start: little work between the first looks for virtio-mem. */
		ev->batch = min(ev->batch * 2, RAMM_EVICT_BATCH);
	} else if (ret == -EBUSY && k > 1) {
		ev->single = k; /* find the busy one: go one by one */
	} else if (ret == -EBUSY) {
		ev->cursor--;
		ev->n_busy++;
		if (ev->single)
			ev->single--;
	} else {
		/* -ENOMEM: nowhere to migrate to; more would only thrash. */
		stop = ret == -ENOMEM ? "out of memory" : "error";
	}
	if (stop)
		ramm_evict_finish(stop);
	return;

out_unlock:
	ramm_pfn_unlock(held);
	ramm_evict_finish(stop);
}

/* --- kernel-zone pool ------------------------------------------------------ */

/*
 * Why: with hotplugged memory online as ZONE_MOVABLE, kernel allocations
 * can only use boot memory. While a guest waits for a plug its workload's
 * pages spill into boot memory and stay there after the plug (nothing
 * moves pages across zones), so page tables and the memmap of the next
 * memory block fail, and the OOM killer runs, with plenty free in
 * ZONE_MOVABLE. So krammd holds back the kernel zones' low mark, plus the
 * memmap that growth to the cap needs, in blocks of their own, taken only
 * while they have more than the low mark free, and gives them
 * back to kernel allocations: the shrinker releases them to direct reclaim
 * for allocations that cannot use ZONE_MOVABLE (not to kswapd, not to user
 * pages, which have ZONE_MOVABLE and the broker), and the OOM notifier to
 * anyone, which spares a kill. The record's kernel_free_kib counts them.
 */

/*
 * Give back at least @n pages of the pool (whole blocks), or all of it;
 * returns how many pages. Any context reclaim runs in; does not sleep.
 */
static unsigned long ramm_pool_release(unsigned long n)
{
	struct page *page, *tmp;
	unsigned long done = 0;
	LIST_HEAD(out);

	spin_lock(&ramm.pool_lock);
	while (done < n && !list_empty(&ramm.pool)) {
		list_move(ramm.pool.next, &out);
		done += 1UL << RAMM_POOL_ORDER;
	}
	ramm.pool_pages -= done;
	spin_unlock(&ramm.pool_lock);
	list_for_each_entry_safe(page, tmp, &out, lru) {
		list_del(&page->lru);
		__free_pages(page, RAMM_POOL_ORDER);
	}
	return done;
}

/*
 * The pool's target in pages: the kernel zones' low mark, plus the memmap
 * that growing to the welcome's cap will allocate there (a struct page per
 * page of the growth: 1.6 % of it with 64-byte struct pages).
 */
static unsigned long ramm_pool_target(const struct ramm_kzone *k)
{
	u64 size, cap, growth = 0;
	bool welcomed;

	spin_lock(&ramm.msg_lock);
	welcomed = ramm.market.welcomed;
	cap = ramm.market.cap_bytes;
	spin_unlock(&ramm.msg_lock);
	size = (u64)totalram_pages() * PAGE_SIZE + ramm.smp.reserve;
	if (welcomed && cap > size)
		growth = div64_u64(cap - size, PAGE_SIZE) * sizeof(struct page);
	return (k->low + growth) >> PAGE_SHIFT;
}

/*
 * Top the pool up toward ramm_pool_target(), by at most
 * RAMM_POOL_FILL_BATCH blocks, from free kernel-zone memory only: no
 * reclaim, and never below the low mark of what stays free. A block in
 * hotplugged memory (a ZONE_NORMAL block virtio-mem could unplug) is not
 * kept. krammd only; sleeps (pfn_lock).
 */
static void ramm_pool_fill(void)
{
	const gfp_t gfp = (GFP_KERNEL & ~__GFP_RECLAIM) | __GFP_NOWARN |
			  __GFP_NOMEMALLOC;
	const u64 block = PAGE_SIZE << RAMM_POOL_ORDER;
	struct ramm_kzone k;
	unsigned long target;
	unsigned int i;

	ramm_kzone_read(&k);
	target = ramm_pool_target(&k);
	for (i = 0; i < RAMM_POOL_FILL_BATCH &&
	     READ_ONCE(ramm.pool_pages) < target && k.usable >= k.low + block;
	     i++) {
		struct page *page = alloc_pages(gfp, RAMM_POOL_ORDER);
		bool hotplugged;
		u64 held;

		if (!page)
			break;
		held = ramm_pfn_lock();
		hotplugged = ramm_ranges_contain(page_to_pfn(page));
		ramm_pfn_unlock(held);
		if (hotplugged) {
			__free_pages(page, RAMM_POOL_ORDER);
			break;
		}
		spin_lock(&ramm.pool_lock);
		list_add(&page->lru, &ramm.pool);
		ramm.pool_pages += 1UL << RAMM_POOL_ORDER;
		spin_unlock(&ramm.pool_lock);
		k.usable -= block;
	}
}

/* --- krammd ---------------------------------------------------------------- */

static int ramm_thread(void *unused)
{
	struct ramm_sampler *s = &ramm.smp;
	u64 now = ktime_get_ns(), next_sample, next_check;

	set_freezable();
	s->was_short = ramm_short_now();
	ramm_publish(now, false);
	next_sample = now + (u64)READ_ONCE(interval_ms) * NSEC_PER_MSEC;
	next_check = now + RAMM_AVAIL_CHECK_NS;

	while (!kthread_should_stop()) {
		bool urgent, urgent_ok, publish;
		u64 wake_at;

		clear_bit(RAMM_EV_KICK, &ramm.events);
		now = ktime_get_ns();

		if (test_and_clear_bit(RAMM_EV_EVICT, &ramm.events))
			ramm_evict_plan(now);
		publish = test_and_clear_bit(RAMM_EV_PUBLISH, &ramm.events) ||
			  now >= next_sample;
		/* Before each record too, so a periodic one sees the edge. */
		if (now >= next_check || publish) {
			bool short_mem = ramm_short_now();

			if (short_mem && !s->was_short)
				s->short_edge = true;
			s->was_short = short_mem;
			if (ramm_surging(s, now))
				s->surge_edge = true;
			ramm_pool_fill();
			next_check = now + (s->rising ? RAMM_RISING_CHECK_NS :
					    RAMM_AVAIL_CHECK_NS);
		}
		if (s->rising && now - s->last_ns >= RAMM_RISING_RECORD_NS)
			publish = true;
		urgent = ramm_urgent_pending();
		urgent_ok = now >= ramm.quiet_until_ns;
		if (publish || (urgent && urgent_ok)) {
			/* Before ramm_publish() reads the counters. */
			if (urgent && urgent_ok)
				WRITE_ONCE(ramm.quiet_until_ns,
					   now + RAMM_URGENT_GAP_NS);
			ramm_publish(now, urgent && urgent_ok);
			next_sample = now +
				(u64)READ_ONCE(interval_ms) * NSEC_PER_MSEC;
			continue;
		}
		if (ramm.evict.pfns) {
			ramm_evict_step(now);
			cond_resched();
			try_to_freeze();
			continue;
		}

		wake_at = min(next_sample, next_check);
		/* Events in a hold-back do not wake us: see ramm_urgent_event(). */
		if (now < ramm.quiet_until_ns)
			wake_at = min(wake_at, ramm.quiet_until_ns);
		wait_event_freezable_timeout(ramm.thread_wq,
			test_bit(RAMM_EV_KICK, &ramm.events) ||
			kthread_should_stop(),
			nsecs_to_jiffies(wake_at - now) + 1);
		atomic64_inc(&ramm.stats.wakeups);
	}
	ramm_evict_finish("unloading");
	return 0;
}

/* --- reclaim and OOM callbacks ----------------------------------------- */

/* Whether this reclaim is for an allocation the kernel-zone pool serves. */
static bool ramm_pool_serves(const struct shrink_control *sc)
{
	return !current_is_kswapd() && gfp_zone(sc->gfp_mask) < ZONE_MOVABLE;
}

/*
 * count_objects: called by every global reclaim pass (kswapd and direct
 * reclaim) through shrink_slab(). Counts the call; offers the pool only
 * to the allocations it serves, so scan_objects runs for those alone.
 * Any context reclaim runs in.
 */
static unsigned long ramm_shrink_count(struct shrinker *sh,
				       struct shrink_control *sc)
{
	atomic64_inc(&ramm.shrinker_calls);
	ramm_urgent_event();
	return ramm_pool_serves(sc) ? READ_ONCE(ramm.pool_pages) : 0;
}

static unsigned long ramm_shrink_scan(struct shrinker *sh,
				      struct shrink_control *sc)
{
	unsigned long freed = 0;

	if (ramm_pool_serves(sc))
		freed = ramm_pool_release(sc->nr_to_scan);
	return freed ? freed : SHRINK_STOP;
}

/*
 * OOM notifier: called by out_of_memory() before it picks a victim. The
 * pool goes back whole; pages freed here spare the kill.
 */
static int ramm_oom_notify(struct notifier_block *nb, unsigned long action,
			   void *freed)
{
	atomic64_inc(&ramm.oom_events);
	ramm_urgent_event();
	*(unsigned long *)freed += ramm_pool_release(ULONG_MAX);
	return NOTIFY_OK;
}

static int ramm_shrinker_register(void)
{
#if RAMM_SHRINKER_ALLOC
	ramm.shrinker = shrinker_alloc(0, "ramm");
	if (!ramm.shrinker)
		return -ENOMEM;
	ramm.shrinker->count_objects = ramm_shrink_count;
	ramm.shrinker->scan_objects = ramm_shrink_scan;
	ramm.shrinker->seeks = 0; /* free to give back: half the pool a pass */
	shrinker_register(ramm.shrinker);
	return 0;
#else
	ramm.shrinker.count_objects = ramm_shrink_count;
	ramm.shrinker.scan_objects = ramm_shrink_scan;
	ramm.shrinker.seeks = 0; /* free to give back: half the pool a pass */
	return register_shrinker(&ramm.shrinker, "ramm");
#endif
}

/* Undo ramm_shrinker_register(); waits for running callbacks. */
static void ramm_shrinker_unregister(void)
{
#if RAMM_SHRINKER_ALLOC
	shrinker_free(ramm.shrinker);
	ramm.shrinker = NULL;
#else
	unregister_shrinker(&ramm.shrinker);
#endif
}

/* --- /dev/ramm ------------------------------------------------------------- */

static int ramm_open(struct inode *inode, struct file *file)
{
	struct ramm_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	file->private_data = f;
	return nonseekable_open(inode, file);
}

static int ramm_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
	return 0;
}

/* Whether a record newer than @f's last one exists. */
static bool ramm_newer(const struct ramm_file *f)
{
	return READ_ONCE(ramm.rec_seq) > READ_ONCE(f->last_seq);
}

/*
 * Returns the newest record, exactly sizeof(struct ramm_dev_record) bytes,
 * once it is newer than the last one this file read: blocks until then,
 * or -EAGAIN with O_NONBLOCK. -EINVAL if @count is too small.
 */
static ssize_t ramm_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct ramm_file *f = file->private_data;
	ssize_t ret;

	if (count < sizeof(f->buf))
		return -EINVAL;
	if (mutex_lock_interruptible(&f->lock))
		return -ERESTARTSYS;
	while (!ramm_newer(f)) {
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out_unlock;
		}
		mutex_unlock(&f->lock);
		if (wait_event_interruptible(ramm.readq, ramm_newer(f)))
			return -ERESTARTSYS;
		if (mutex_lock_interruptible(&f->lock))
			return -ERESTARTSYS;
	}
	spin_lock(&ramm.rec_lock);
	f->buf = ramm.rec;
	spin_unlock(&ramm.rec_lock);
	if (copy_to_user(buf, &f->buf, sizeof(f->buf))) {
		ret = -EFAULT;
		goto out_unlock;
	}
	WRITE_ONCE(f->last_seq, f->buf.seq);
	ret = sizeof(f->buf);
out_unlock:
	mutex_unlock(&f->lock);
	return ret;
}

static __poll_t ramm_poll(struct file *file, poll_table *wait)
{
	struct ramm_file *f = file->private_data;
	__poll_t mask = 0;
	u32 flags;
	u64 seq;

	poll_wait(file, &ramm.readq, wait);
	spin_lock(&ramm.rec_lock);
	seq = ramm.rec.seq;
	flags = ramm.rec.flags;
	spin_unlock(&ramm.rec_lock);
	if (seq > READ_ONCE(f->last_seq)) {
		mask |= EPOLLIN | EPOLLRDNORM;
		if (flags & RAMM_REC_URGENT)
			mask |= EPOLLPRI;
	}
	return mask;
}

static bool ramm_page_multiple(u64 v)
{
	return !(v & 4095);
}

/* Whether @m is a message this driver accepts; it changes nothing. */
static int ramm_msg_check(const struct ramm_dev_msg *m)
{
	if (m->version != RAMM_DEV_VERSION)
		return -EINVAL;
	switch (m->type) {
	case RAMM_DEV_MSG_WELCOME:
		/* a unit, b floor, c cap, d size */
		if (m->a < 4096 || !is_power_of_2(m->a) ||
		    m->a > RAMM_MAX_UNIT_BYTES)
			return -EINVAL;
		if (m->b > m->c || m->c > RAMM_MAX_BYTES || m->d > RAMM_MAX_BYTES)
			return -EINVAL;
		if (!ramm_page_multiple(m->b) || !ramm_page_multiple(m->c) ||
		    !ramm_page_multiple(m->d))
			return -EINVAL;
		return 0;
	case RAMM_DEV_MSG_BOOT:
		/* a boot memory */
		if (!m->a || m->a > RAMM_MAX_BYTES || !ramm_page_multiple(m->a) ||
		    m->b || m->c || m->d)
			return -EINVAL;
		return 0;
	case RAMM_DEV_MSG_GRANT:
		/* a target, b price */
		if (m->c || m->d || m->a > RAMM_MAX_BYTES ||
		    m->b > RAMM_MAX_PRICE)
			return -EINVAL;
		return 0;
	case RAMM_DEV_MSG_EVICT:
		/* a units (0: the last notice is called off), b deadline,
		 * c id */
		if (m->d || m->b > RAMM_EVICT_MAX_DEADLINE_MS ||
		    m->c > RAMM_EVICT_MAX_ID)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Apply a message ramm_msg_check() accepted. */
static void ramm_msg_apply(const struct ramm_dev_msg *m)
{
	struct ramm_market *mk = &ramm.market;
	u64 total = (u64)totalram_pages() << PAGE_SHIFT;
	u64 reading;
	int ev = -1;

	spin_lock(&ramm.msg_lock);
	switch (m->type) {
	case RAMM_DEV_MSG_WELCOME:
		/*
		 * The host's size less what the kernel manages is the boot
		 * reserve. The smallest reading wins: right after a resize
		 * the kernel may not have onlined all of it yet.
		 */
		reading = m->d > total ? m->d - total : 0;
		if (!mk->welcomed || reading < mk->reserve_bytes)
			mk->reserve_bytes = reading;
		mk->unit_bytes = m->a;
		mk->floor_bytes = m->b;
		mk->cap_bytes = m->c;
		mk->welcomed = true;
		ev = RAMM_EV_PUBLISH;
		break;
	case RAMM_DEV_MSG_BOOT:
		mk->boot_bytes = m->a;
		ev = RAMM_EV_PUBLISH;
		break;
	case RAMM_DEV_MSG_GRANT:
		mk->grant_target_bytes = m->a;
		mk->grant_price = m->b;
		break;
	case RAMM_DEV_MSG_EVICT:
		mk->evict_units = m->a;
		mk->evict_deadline_ms = m->b;
		mk->evict_rx_ns = ktime_get_ns();
		mk->evict_id = m->c;
		mk->evict_gen++;
		ev = RAMM_EV_EVICT;
		break;
	}
	spin_unlock(&ramm.msg_lock);
	if (ev >= 0) {
		set_bit(ev, &ramm.events);
		ramm_kick();
	}
}

/*
 * Takes exactly one struct ramm_dev_msg. -EINVAL (nothing changes) for any
 * other size or a message ramm_msg_check() rejects.
 */
static ssize_t ramm_write(struct file *file, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	struct ramm_dev_msg m;
	int ret;

	if (count != sizeof(m))
		return -EINVAL;
	if (copy_from_user(&m, buf, sizeof(m)))
		return -EFAULT;
	ret = ramm_msg_check(&m);
	if (ret)
		return ret;
	ramm_msg_apply(&m);
	return sizeof(m);
}

static const struct file_operations ramm_fops = {
	.owner = THIS_MODULE,
	.open = ramm_open,
	.release = ramm_release,
	.read = ramm_read,
	.write = ramm_write,
	.poll = ramm_poll,
};

static struct miscdevice ramm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = RAMM_DEV_NAME,
	.fops = &ramm_fops,
	.groups = ramm_attr_groups,
	.mode = 0600,
};

/* --- module init and exit ---------------------------------------------- */

static int __init ramm_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct ramm_dev_record) != 792);
	BUILD_BUG_ON(sizeof(struct ramm_dev_msg) != 40);
	BUILD_BUG_ON(RAMM_CHUNK_ORDER > RAMM_MAX_BUDDY_ORDER);

	spin_lock_init(&ramm.rec_lock);
	init_waitqueue_head(&ramm.readq);
	spin_lock_init(&ramm.msg_lock);
	spin_lock_init(&ramm.pool_lock);
	INIT_LIST_HEAD(&ramm.pool);
	mutex_init(&ramm.pfn_lock);
	init_waitqueue_head(&ramm.busy_wq);
	init_waitqueue_head(&ramm.thread_wq);

	/* Notifier first, then the scan: no block is missed in between. */
	ramm.mem_nb.notifier_call = ramm_mem_notify;
	ret = register_memory_notifier(&ramm.mem_nb);
	if (ret)
		return ret;
	mutex_lock(&ramm.pfn_lock);
	walk_iomem_res_desc(IORES_DESC_NONE, RAMM_RES_FLAGS, 0, U64_MAX, NULL,
			    ramm_res_add);
	mutex_unlock(&ramm.pfn_lock);

	ret = ramm_shrinker_register();
	if (ret)
		goto out_unreg_mem;

	ramm.oom_nb.notifier_call = ramm_oom_notify;
	ret = register_oom_notifier(&ramm.oom_nb);
	if (ret)
		goto out_unreg_shrinker;

	ramm.thread = kthread_run(ramm_thread, NULL, "krammd");
	if (IS_ERR(ramm.thread)) {
		ret = PTR_ERR(ramm.thread);
		goto out_unreg_oom;
	}

	ret = misc_register(&ramm_misc);
	if (ret)
		goto out_stop_thread;

	pr_info("loaded: /dev/%s, interval %u ms, %u hotplugged range(s)\n",
		RAMM_DEV_NAME, READ_ONCE(interval_ms), ramm.n_ranges);
	return 0;

out_stop_thread:
	kthread_stop(ramm.thread);
	ramm_pool_release(ULONG_MAX);
out_unreg_oom:
	unregister_oom_notifier(&ramm.oom_nb);
out_unreg_shrinker:
	ramm_shrinker_unregister();
out_unreg_mem:
	unregister_memory_notifier(&ramm.mem_nb);
	return ret;
}

static void __exit ramm_exit(void)
{
	misc_deregister(&ramm_misc);
	kthread_stop(ramm.thread);
	unregister_oom_notifier(&ramm.oom_nb);
	ramm_shrinker_unregister();
	ramm_pool_release(ULONG_MAX);
	unregister_memory_notifier(&ramm.mem_nb);
}

module_init(ramm_init);
module_exit(ramm_exit);

MODULE_DESCRIPTION("ramm in-kernel guest agent: bids for memory, /dev/ramm");
MODULE_AUTHOR("The ramm authors");
MODULE_LICENSE("Dual MIT/GPL");
