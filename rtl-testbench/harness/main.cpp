// Verilator driver for tb_unit: reads one input per cycle from a vector file, clocks the unit,
// writes what its output ports show on each cycle. Built and run by the rtl-testbench crate
// (src/model.rs, src/sim.rs); see docs/rtl.md.
//
//   Vunit --in IN --out OUT [--vcd FILE]
//
// IN, one line per cycle: "-" (bubble: in_valid = 0) or five words for in_0 .. in_4, each 64
// hex digits, most significant first (a unit ignores the ports it does not use).
// OUT, one line per cycle: "-" (out_valid = 0) or three words out_0 .. out_2, then a
// last line "# cycles N wall_ns T cpu_ns C": wall-clock and CPU nanoseconds spent clocking the
// model (reading and writing the files excluded).
//
// Cycle t: the inputs of line t are driven, the outputs are sampled (they come from registers,
// so they show the state after t rising edges), then the rising edge of cycle t captures the
// inputs. So an input on line t whose unit has latency L appears on output line t + L. Before
// line 0 the unit gets one cycle with rst = 1 and in_valid = 0; its registers start random
// (--x-initial unique), so the reset must clear them.

#include <chrono>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "Vunit.h"
#include "verilated.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

namespace {

constexpr int kWords = 8;  // 256 bits in 32-bit words, least significant first
constexpr int kIn = 5;     // input words per cycle
constexpr int kOut = 3;    // output words per cycle

struct Word {
    uint32_t w[kWords];
};

struct Input {
    bool valid;
    Word w[kIn];
};

struct Output {
    bool valid;
    Word w[kOut];
};

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "Vunit: %s\n", msg.c_str());
    std::exit(2);
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Word parse_word(const std::string& s, size_t line) {
    if (s.size() != 64) die("line " + std::to_string(line) + ": a word needs 64 hex digits");
    Word out{};
    for (int i = 0; i < 64; ++i) {
        int v = hexval(s[63 - i]);
        if (v < 0) die("line " + std::to_string(line) + ": bad hex digit");
        out.w[i / 8] |= static_cast<uint32_t>(v) << (4 * (i % 8));
    }
    return out;
}

void put_word(std::string& out, const Word& w) {
    static const char* digits = "0123456789abcdef";
    for (int i = 63; i >= 0; --i) out.push_back(digits[(w.w[i / 8] >> (4 * (i % 8))) & 0xf]);
}

template <typename W>
void drive(W& port, const Word& w) {
    for (int i = 0; i < kWords; ++i) port[i] = w.w[i];
}

template <typename W>
Word sample(const W& port) {
    Word w;
    for (int i = 0; i < kWords; ++i) w.w[i] = port[i];
    return w;
}

}  // namespace

int main(int argc, char** argv) {
    std::string in_path, out_path, vcd_path;
    std::vector<char*> plusargs{argv[0]};
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg[0] == '+') {
            plusargs.push_back(argv[i]);
            continue;
        }
        if (i + 1 >= argc) die("missing value after " + arg);
        if (arg == "--in") in_path = argv[++i];
        else if (arg == "--out") out_path = argv[++i];
        else if (arg == "--vcd") vcd_path = argv[++i];
        else die("unknown argument " + arg);
    }
    if (in_path.empty() || out_path.empty()) die("usage: Vunit --in IN --out OUT [--vcd FILE]");

    std::vector<Input> inputs;
    {
        std::ifstream in(in_path);
        if (!in) die("cannot open " + in_path);
        std::string line;
        size_t n = 0;
        while (std::getline(in, line)) {
            ++n;
            if (line.empty()) continue;
            Input x{};
            if (line == "-") {
                x.valid = false;
            } else {
                if (line.size() != 65 * kIn - 1)
                    die("line " + std::to_string(n) + ": expected \"-\" or five words");
                x.valid = true;
                for (int k = 0; k < kIn; ++k) {
                    if (k > 0 && line[65 * k - 1] != ' ')
                        die("line " + std::to_string(n) + ": words are separated by one space");
                    x.w[k] = parse_word(line.substr(65 * k, 64), n);
                }
            }
            inputs.push_back(x);
        }
    }

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(static_cast<int>(plusargs.size()), plusargs.data());
    auto top = std::make_unique<Vunit>(ctx.get());
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> vcd;
    if (!vcd_path.empty()) {
        ctx->traceEverOn(true);
        vcd = std::make_unique<VerilatedVcdC>();
        top->trace(vcd.get(), 99);
        vcd->open(vcd_path.c_str());
    }
#else
    if (!vcd_path.empty()) die("--vcd needs a model built with --trace");
#endif
    uint64_t time = 0;  // VCD time: 2 units per cycle (clock low, clock high)
    auto half = [&](int clk) {
        top->clk = clk;
        top->eval();
#if VM_TRACE
        if (vcd) vcd->dump(time);
#endif
        ++time;
    };

    // One reset cycle.
    top->rst = 1;
    top->in_valid = 0;
    half(0);
    half(1);
    top->rst = 0;

    std::vector<Output> outputs(inputs.size());
    auto start = std::chrono::steady_clock::now();
    std::clock_t cpu_start = std::clock();
    for (size_t t = 0; t < inputs.size(); ++t) {
        const Input& x = inputs[t];
        top->in_valid = x.valid;
        drive(top->in_0, x.w[0]);
        drive(top->in_1, x.w[1]);
        drive(top->in_2, x.w[2]);
        drive(top->in_3, x.w[3]);
        drive(top->in_4, x.w[4]);
        half(0);
        Output& o = outputs[t];
        o.valid = top->out_valid;
        if (o.valid) {
            o.w[0] = sample(top->out_0);
            o.w[1] = sample(top->out_1);
            o.w[2] = sample(top->out_2);
        }
        half(1);
    }
    auto wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    auto cpu_ns = static_cast<long long>(
        static_cast<double>(std::clock() - cpu_start) * 1e9 / CLOCKS_PER_SEC);
    top->final();
#if VM_TRACE
    if (vcd) vcd->close();
#endif

    std::string text;
    text.reserve(outputs.size() * 65 * kOut + 64);
    for (const Output& o : outputs) {
        if (!o.valid) {
            text += "-\n";
            continue;
        }
        for (int k = 0; k < kOut; ++k) {
            if (k > 0) text.push_back(' ');
            put_word(text, o.w[k]);
        }
        text.push_back('\n');
    }
    text += "# cycles " + std::to_string(inputs.size()) + " wall_ns " + std::to_string(wall_ns) +
            " cpu_ns " + std::to_string(cpu_ns) + "\n";
    std::FILE* f = std::fopen(out_path.c_str(), "wb");
    if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
        die("cannot write " + out_path);
    return 0;
}
