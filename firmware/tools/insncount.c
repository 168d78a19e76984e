/* (Copied from the project's shared tools so that `cargo xtask firmware run --count` builds it
 * anywhere.)
 * Minimal QEMU 7.2 TCG plugin (plugin API version 1): counts executed guest instructions.
 * Debian's qemu-system-arm 7.2 is built with plugin support but ships no plugins/headers,
 * so the few API declarations needed are written out here.
 *   -plugin PATH/TO/libinsncount.so[,mark=0xADDR]
 * mark=ADDR: every time the instruction at ADDR (e.g. an #[inline(never)] bench_mark() fn)
 * executes, print the running instruction count -> diff consecutive marks for a region. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb; struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t insn_count;   /* whole TBs are added on TB entry */
static uint64_t mark_addr = UINT64_MAX, last_mark, n_marks;

static void on_mark(unsigned int vcpu, void *udata) {
    /* insn_count already includes the whole TB containing the mark; subtract the tail */
    uint64_t now = insn_count - (uint64_t)(uintptr_t)udata;
    char buf[160];
    snprintf(buf, sizeof buf, "insncount: mark %" PRIu64 " at %" PRIu64 " insns (+%" PRIu64 " since previous mark)\n",
             n_marks++, now, now - last_mark);
    last_mark = now;
    qemu_plugin_outs(buf);
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &insn_count, n);
    if (mark_addr != UINT64_MAX) {
        for (size_t i = 0; i < n; i++) {
            struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            if (qemu_plugin_insn_vaddr(insn) == mark_addr)
                qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS,
                                                       (void *)(uintptr_t)(n - i));
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *p) {
    char buf[96];
    snprintf(buf, sizeof buf, "insncount: total %" PRIu64 " guest instructions\n", insn_count);
    qemu_plugin_outs(buf);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strncmp(argv[i], "mark=", 5) == 0) mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~1ull; /* drop thumb bit */
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
