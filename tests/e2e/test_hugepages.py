"""Guests backed by real host huge pages (hugetlbfs): rammd plans them in
whole host pages.

Each test reserves the host pages it needs (Lab.hugepages) and gives them
back when the lab closes, after its guests stopped. The guests load
ramm_guest.ko, whose free-extent histogram is the guest's offer.

 - 2 MiB pages (memory-backend-memfd,hugetlb=on): rammd reads the page size
   over QMP, grows the guest no further than the free pages of its pool
   although it bids for more, and an unplug gives back exactly its pages.
 - 1 GiB pages (memory-backend-file on a hugetlbfs mount, 1 GiB block):
   requests are whole GiB; free 2 MiB extents offer nothing; draining it
   returns its page; with no free 1 GiB page nothing is requested although
   it bids, and one page appearing brings exactly one GiB.
 - a mis-sized guest: QEMU itself refuses a virtio-mem block below its
   backing page, and rammd refuses a guest whose backing, as rammd reads
   it, has larger pages than its block.
"""

import os
import re
import subprocess
import time

from common import (MIB, Broker, check, free_huge_pages, lab, reserve_huge_pages,
                    require_huge_page_size, vmem_config, wait_for)

KIB_2M = 2048
KIB_1G = 1024 * 1024
BOOT_MIB = 256


def pool_of(broker, page_kib):
    for p in broker.state()["pools"]:
        if p["page_kib"] == page_kib:
            return p
    return None


def pool_demand_mib(broker, page_kib):
    """Memory bid for in the pool of @page_kib pages; 0 before it exists."""
    p = pool_of(broker, page_kib)
    return p["demand_mib"] if p else 0


def watch_requests(g, seconds, unit_mib):
    """Sample the device for @seconds; every requested size must be a
    whole number of units. Returns the largest request seen."""
    most = 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        req = g.vmem()["requested-size"] // MIB
        check(req % unit_mib == 0, "%s: requested %d MiB, not whole %d MiB pages"
              % (g.name, req, unit_mib))
        most = max(most, req)
        time.sleep(0.2)
    return most


def settled_size(g, seconds=3):
    """The plugged size once it stopped moving and matches the request."""
    def stable():
        a = g.vmem()
        time.sleep(seconds)
        b = g.vmem()
        return a["size"] == b["size"] == b["requested-size"]
    wait_for("%s to settle" % g.name, stable, 60)
    return g.vmem()["size"] // MIB


def test_2m_pages_plug_within_pool_and_unplug_exactly():
    with lab.Lab() as L:
        plugged_mib = 128
        spare = 10  # free pages left once the guest has its 128 MiB
        total = plugged_mib // 2 + spare
        reserve_huge_pages(L, KIB_2M, total)
        g = L.boot("h2", boot_mib=BOOT_MIB, vmem_mib=plugged_mib, vmem_max_mib=512,
                   block_mib=2, kmod=True,
                   memdev="memory-backend-memfd,hugetlb=on,hugetlbsize=2M,reserve=off",
                   vmem_opts=",prealloc=on")
        g.wait_ready()
        check(free_huge_pages(KIB_2M) == spare,
              "after boot %d 2 MiB pages are free, expected %d" % (free_huge_pages(KIB_2M), spare))
        # quantum_mib 0: the last free page must be plugged even when it
        # is a growth of one page.
        broker = Broker(L, vmem_config(guests=[g], supply_mib=8192, reserve_price=0,
                                       quantum_mib=0) +
                        "floor_mib = %d\n" % BOOT_MIB)
        try:
            st = wait_for("rammd to size h2 in 2 MiB pages",
                          lambda: (lambda s: s if s["device_ready"] and s["pool"] == "hugetlb"
                                   else None)(broker.guest("h2")), 30)
            check(st["page_kib"] == KIB_2M and st["unit_kib"] == KIB_2M,
                  "page/unit read as %r/%r KiB" % (st["page_kib"], st["unit_kib"]))
            pool = wait_for("the 2 MiB pool in rammctl market",
                            lambda: pool_of(broker, KIB_2M), 10)
            check(pool["unit_kib"] == KIB_2M, "pool unit %r" % pool["unit_kib"])

            # Demand beyond the pool: the hog needs more than the guest and
            # its pool's 10 free pages can give.
            g.hog(250)
            wait_for("h2 to bid beyond its pool",
                     lambda: pool_demand_mib(broker, KIB_2M) > plugged_mib + 2 * spare, 60)
            most = watch_requests(g, 10, 2)
            check(most <= plugged_mib + 2 * spare,
                  "requested %d MiB with only %d MiB free in the pool"
                  % (most, 2 * spare))
            check(most == plugged_mib + 2 * spare,
                  "the pool's free pages were not used: most requested %d MiB" % most)
            grown = settled_size(g)
            check(free_huge_pages(KIB_2M) == total - grown // 2,
                  "%d pages free with %d MiB plugged out of %d pages"
                  % (free_huge_pages(KIB_2M), grown, total))
            print("2M: grew %d -> %d MiB, pool exhausted, demand %d MiB"
                  % (plugged_mib, grown, pool_of(broker, KIB_2M)["demand_mib"]))

            # Unplug: the host gets back exactly the pages it held.
            before_free = free_huge_pages(KIB_2M)
            broker.rammctl("drain", "h2")
            wait_for("h2 drained to its floor", lambda: g.vmem()["requested-size"] == 0, 60)
            after = settled_size(g)
            after_free = free_huge_pages(KIB_2M)
            print("2M: unplugged %d MiB; free pages %d -> %d"
                  % (grown - after, before_free, after_free))
            check(after < grown, "nothing was unplugged")
            check((after_free - before_free) * 2 == grown - after,
                  "free pages rose by %d for %d MiB unplugged"
                  % (after_free - before_free, grown - after))
            # The hog's memory could not go: the drain fell short, and from
            # then on rammd asked only for what h2 reported free.
            log = broker.log()
            check("h2: resize" in log and "stopped at" in log,
                  "the drain did not fall short with the hog running")
            later = log[log.index("stopped at"):]
            shrinks = re.findall(r"h2: shrink (\d+) -> (\d+) units.*; offers (\d+), only offered", later)
            for held, target, offered in shrinks:
                check(int(held) - int(target) <= int(offered),
                      "after a short unplug rammd asked for %d units, %s offered"
                      % (int(held) - int(target), offered))
            print("2M: %d shrinks after the short unplug, each within its offer" % len(shrinks))

            st = broker.guest("h2")
            check("hist_vmem" in st, "no free-extent histogram from the kernel agent")
            out = broker.rammctl("bids").stdout
            check("OFFER" in out, "rammctl bids shows no offer column:\n" + out)
            check(broker.alive(), "rammd died")
        finally:
            print(broker.log()[-3000:])


def test_1g_pages_whole_pages_only():
    require_huge_page_size(KIB_1G)
    with lab.Lab() as L:
        reserve_huge_pages(L, KIB_1G, 1)
        mnt = L.mount_hugetlbfs(KIB_1G)
        g = L.boot("h1", boot_mib=BOOT_MIB, vmem_mib=1024, vmem_max_mib=2048,
                   block_mib=1024, kmod=True,
                   memdev="memory-backend-file,mem-path=%s,share=on,reserve=off" % mnt,
                   vmem_opts=",prealloc=on")
        g.wait_ready()
        check(free_huge_pages(KIB_1G) == 0, "the guest's 1 GiB is not from the pool")
        broker = Broker(L, vmem_config(guests=[g], supply_mib=8192, reserve_price=0) +
                        "floor_mib = %d\n" % BOOT_MIB)
        try:
            st = wait_for("rammd to size h1 in 1 GiB pages",
                          lambda: (lambda s: s if s["device_ready"] else None)(broker.guest("h1")), 30)
            check(st["page_kib"] == KIB_1G and st["unit_kib"] == KIB_1G,
                  "page/unit read as %r/%r KiB" % (st["page_kib"], st["unit_kib"]))
            g.hog(200)
            wait_for("h1 to bid for its GiB", lambda: pool_demand_mib(broker, KIB_1G) >= 1024, 60)
            held = settled_size(g)
            check(held == 1024, "h1 holds %d MiB" % held)
            # Many free 2 MiB extents offer nothing to a 1 GiB-backed guest:
            # only free, aligned 1 GiB extents would.
            st = broker.guest("h1")
            hist = st.get("hist_vmem")
            check(hist is not None, "no free-extent histogram from the kernel agent")
            print("1G: hist_vmem %r offer %r MiB" % (hist, st["offer_mib"]))
            check(st["offer_mib"] == min(hist[9], 1) * 1024,
                  "offer %r MiB with %r free 1 GiB extents" % (st["offer_mib"], hist[9]))
            check(hist[0] > 0, "no free 2 MiB extent to show")

            # Drain: the unplugged GiB is one page back in the pool. The
            # hog stops first: its memory could not move into boot memory.
            g.hog(0)
            broker.rammctl("drain", "h1")
            wait_for("h1 drained", lambda: g.vmem()["requested-size"] == 0, 60)
            after = settled_size(g)
            print("1G: unplugged %d MiB; %d pages free" % (held - after, free_huge_pages(KIB_1G)))
            check(free_huge_pages(KIB_1G) * 1024 == held - after,
                  "%d pages free after %d MiB unplugged" % (free_huge_pages(KIB_1G), held - after))

            # Another user of the pool takes the free page; the guest bids
            # for a GiB again, from its floor: a hog that nearly fills it
            # puts its working set plus the agent's margin above it.
            other = os.path.join(mnt, "other-user")
            subprocess.run(["fallocate", "-l", "1G", other], check=True)
            check(free_huge_pages(KIB_1G) == 0, "the other user did not take the page")
            broker.rammctl("include", "h1")
            g.hog(g.meminfo_kib("MemAvailable") // 1024 - 12)
            try:
                wait_for("h1 to bid again", lambda: pool_demand_mib(broker, KIB_1G) >= 1024, 30)
            except AssertionError:
                st = broker.guest("h1")
                print("h1 bid %r, available %r MiB, hog %r, meminfo %r" % (
                    st["bid"], st["mem_available_mib"], g.hog_status(),
                    g.run("head -3 /proc/meminfo")[1]))
                raise
            most = watch_requests(g, 6, 1024)
            check(most == 0, "requested %d MiB with no free 1 GiB page" % most)
            # The page is freed: exactly one GiB is plugged.
            os.unlink(other)
            wait_for("h1 to get the new page", lambda: g.vmem()["requested-size"] == 1024 * MIB, 30)
            most = watch_requests(g, 4, 1024)
            check(most == 1024 and settled_size(g) == 1024 and free_huge_pages(KIB_1G) == 0,
                  "requested up to %d MiB, %d pages free" % (most, free_huge_pages(KIB_1G)))
            check(broker.alive(), "rammd died")
        finally:
            print(broker.log()[-3000:])


def test_mis_sized_guest_is_refused():
    require_huge_page_size(KIB_1G)
    with lab.Lab() as L:
        # QEMU refuses a block below its backing page before any broker sees it.
        qemu = subprocess.run(
            ["qemu-system-x86_64", "-accel", lab.accel(), "-m", "128M,maxmem=4G",
             "-nodefaults", "-display", "none", "-S", "-qmp", "stdio",
             "-object", "memory-backend-memfd,id=m0,hugetlb=on,hugetlbsize=1G,size=2G,reserve=off",
             "-device", "virtio-mem-pci,id=vm0,memdev=m0,block-size=2M"],
            input='{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
        check("has to be at least the page size" in qemu.stdout,
              "QEMU accepted a 2 MiB block on 1 GiB pages:\n" + qemu.stdout)

        # rammd reads the backing itself: a mem-path that is now a 1 GiB
        # hugetlbfs (remounted under the running QEMU) against a 2 MiB block.
        reserve_huge_pages(L, KIB_2M, 64)
        mnt = L.mount_hugetlbfs(KIB_2M)
        g = L.boot("mis", boot_mib=BOOT_MIB, vmem_mib=64, vmem_max_mib=128, block_mib=2,
                   memdev="memory-backend-file,mem-path=%s,share=on,reserve=off" % mnt,
                   vmem_opts=",prealloc=on")
        g.wait_ready()
        subprocess.run(["umount", "-l", mnt], check=True)
        subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=1G", "none", mnt], check=True)
        broker = Broker(L, vmem_config(guests=[g], supply_mib=8192))
        try:
            wait_for("rammd to refuse the guest",
                     lambda: "smaller than its backing page" in broker.log(), 30)
            st = broker.guest("mis")
            check(not st["device_ready"] and st["pool"] == "none",
                  "refused guest is managed: %r" % st)
            time.sleep(3)
            check(g.vmem()["requested-size"] == 64 * MIB,
                  "the refused guest was resized to %d" % g.vmem()["requested-size"])
            check(broker.alive(), "rammd died")
        finally:
            print(broker.log()[-2000:])
