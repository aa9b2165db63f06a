/* libnftnl and libmnl loaded on first use (common/nftnl_lib.h): this binary is linked the way
 * ikeheald is (without them), so neither may be in the process until an nftnl_* or mnl_*
 * function is called — freeing nothing does not count. A library that cannot be loaded, or lacks
 * the functions, is refused as a whole with the reason; every forwarder then returns its
 * function's failure value, and the entry points (a ruleset dump, a batch) fail with the load's
 * error rather than crash. The real libraries then load, and real calls through the forwarders
 * build and parse a netlink message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "actions/nft_batch.h"
#include "nft_ruleset.h"
#include "nft_watch.h"
#include "nftnl_lib.h"
#include "lib_test.h"
#include "tap.h"

static void forwarders_fail_cleanly(int err) {
        nft_ruleset *rs = NULL;
        nft_batch *b = NULL;
        nft_watch *w = NULL;
        char buf[64] = {};

        CHECK(!nftnl_rule_alloc() && !nftnl_table_alloc(), "the allocators: NULL");
        errno = 0;
        CHECK(mnl_socket_get_fd(NULL) == -1 && errno == ENOSYS, "an int result: -1, errno ENOSYS");
        CHECK(!mnl_nlmsg_ok((const struct nlmsghdr *) buf, sizeof(buf)) && mnl_attr_get_u32(NULL) == 0,
              "a value: 0 or false");
        CHECK(!mnl_nlmsg_put_header(buf), "a pointer: NULL");
        nftnl_rule_set_u32(NULL, NFTNL_RULE_FAMILY, 0); /* void: nothing called */
        CHECK(nft_ruleset_dump(NULL, NULL, NULL, &rs) == err && !rs, "a ruleset dump fails with the load's error");
        CHECK(nft_batch_new(&b, 0) == err && !b, "a batch too");
        /* the firewall check's source: a refresh fails with it (the check reports the reason) */
        if (nft_watch_shared(&w, NULL, 0) >= 0) {
                CHECK(nft_watch_refresh(w, NULL) == err, "the firewall check's ruleset watch fails with it");
                nft_watch_free(w);
        }
        CHECK(nftnl_lib_strerror(err) == nftnl_lib_error() && strcmp(nftnl_lib_strerror(-ENOENT), strerror(ENOENT)) == 0,
              "nftnl_lib_strerror: the reason for the load's error, strerror otherwise");
}

static void refused_missing_mnl(void) {
        nftnl_rule_free(NULL);
        nftnl_table_free(NULL);
        CHECK(!lib_mapped("/libnftnl.so") && !lib_mapped("/libmnl.so") && !nftnl_lib_loaded() && !nftnl_lib_error(),
              "not loaded at start, nor by freeing nothing");
        CHECK(nftnl_lib_load_as("libmnl-absent.so.0", NFTNL_SONAME) == -ELIBACC, "a missing libmnl: -ELIBACC");
        CHECK(nftnl_lib_error() && strcmp(nftnl_lib_error(), "libnftnl could not be loaded: cannot load " MNL_SONAME) == 0,
              "refused, the reason kept: %s", nftnl_lib_error() ?: "(none)");
        CHECK(nftnl_lib_load() == -ELIBACC, "later loads return the first result");
        forwarders_fail_cleanly(-ELIBACC);
        CHECK(!lib_mapped("/libnftnl.so") && !lib_mapped("/libmnl.so"), "nothing of either library in the process");
}

static void refused_missing_nftnl(void) {
        CHECK(nftnl_lib_load_as(MNL_SONAME, "libnftnl-absent.so.11") == -ELIBACC, "a missing libnftnl: -ELIBACC");
        CHECK(nftnl_lib_error() &&
                      strcmp(nftnl_lib_error(), "libnftnl could not be loaded: cannot load " NFTNL_SONAME) == 0,
              "refused as a whole, the reason kept: %s", nftnl_lib_error() ?: "(none)");
        CHECK(!nftnl_lib_loaded() && !nftnl_rule_alloc(), "libmnl alone is not used");
}

static void refused_incomplete(void) {
        CHECK(nftnl_lib_load_as("libc.so.6", NFTNL_SONAME) == -ELIBBAD, "a library without the functions: -ELIBBAD");
        CHECK(nftnl_lib_error() && strstr(nftnl_lib_error(), "lacks a function"), "refused, the reason kept: %s",
              nftnl_lib_error() ?: "(none)");
        forwarders_fail_cleanly(-ELIBBAD);
}

static int count_attr(const struct nlattr *a, void *data) {
        if (mnl_attr_get_type(a) == NFTA_TABLE_NAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                (*(int *) data)++;
        return MNL_CB_OK;
}

static void real_libraries(void) {
        char buf[8192] = {};
        struct nftnl_rule *r;
        struct nftnl_table *t;
        struct nlmsghdr *nlh;
        const struct nlattr *a;
        int n = 0, seen = 0;

        CHECK(nftnl_lib_load() == 0 && nftnl_lib_loaded() && !nftnl_lib_error(), "the real libraries load");
        CHECK(lib_mapped("/libnftnl.so") && lib_mapped("/libmnl.so"), "both now in the process");
        r = nftnl_rule_alloc();
        CHECK(r && nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "filter") == 0 &&
                      strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE) ?: "", "filter") == 0,
              "a rule's attribute set and read back");
        nftnl_rule_free(r);
        t = nftnl_table_alloc();
        CHECK(t && nftnl_table_set_str(t, NFTNL_TABLE_NAME, "ikeheal") == 0, "a table made");
        nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, 7);
        if (t && nlh)
                nftnl_table_nlmsg_build_payload(nlh, t);
        nftnl_table_free(t);
        CHECK(nlh && nlh->nlmsg_seq == 7 && mnl_nlmsg_ok(nlh, (int) nlh->nlmsg_len), "a message built");
        if (!nlh)
                return;
        mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) if (mnl_attr_get_type(a) == NFTA_TABLE_NAME &&
                                                                 strcmp(mnl_attr_get_str(a), "ikeheal") == 0) n++;
        CHECK(n == 1, "its name attribute found by mnl_attr_for_each (mnl_attr_ok, mnl_attr_next)");
        CHECK(mnl_attr_parse(nlh, sizeof(struct nfgenmsg), count_attr, &seen) == MNL_CB_OK && seen == 1,
              "and by mnl_attr_parse with a callback");
}

int main(void) {
        CHECK(lib_in_child(refused_missing_mnl) == 0, "a missing libmnl: refused, every forwarder fails cleanly");
        CHECK(lib_in_child(refused_missing_nftnl) == 0, "a missing libnftnl: refused as a whole");
        CHECK(lib_in_child(refused_incomplete) == 0, "an incomplete library: refused");
        CHECK(lib_in_child(real_libraries) == 0, "the real libraries: loaded on first use, real calls work");
        return TAP_END();
}
