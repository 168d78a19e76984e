// Radix-2 decimation-in-time butterfly for BN254: (a, b, w) -> (a + w*b*R^-1, a - w*b*R^-1) mod p.
//
// Interface (one new butterfly per cycle; no stalls):
//   cycle t       : in_valid = 1, in_a, in_b, in_w (all < p)
//   cycle t+L+1   : out_valid = 1, out_x = a + t mod p, out_y = a - t mod p, t = w*b*2^-256 mod p
// With every word a Montgomery representative (x*R mod p), the outputs represent a + w*b and
// a - w*b. A bubble (in_valid = 0) comes out L+1 cycles later. rst clears the valid pipeline.
//
// Structure: the multiplier (L stages) computes t while a waits in an L-deep delay line; one
// more stage adds and subtracts modulo p (mod_add, mod_sub) into the output registers.
// Latency L + 1 (hw-sim's L_bf = L_mul + 1).
module butterfly #(
    parameter integer FIELD = 0,
    parameter integer L = 16
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    input  wire [255:0] in_a,
    input  wire [255:0] in_b,
    input  wire [255:0] in_w,
    output reg          out_valid,
    output reg  [255:0] out_x,
    output reg  [255:0] out_y
);
    wire         t_valid;
    wire [255:0] t;
    mont_mul #(.FIELD(FIELD), .L(L)) mul (
        .clk(clk),
        .rst(rst),
        .in_valid(in_valid),
        .in_a(in_w),
        .in_b(in_b),
        .out_valid(t_valid),
        .out_c(t)
    );

    // a waits L cycles, alongside its product.
    wire [255:0] a;
    delay #(.W(256), .N(L)) a_delay (.clk(clk), .d(in_a), .q(a));

    wire [255:0] x;
    wire [255:0] y;
    mod_add #(.FIELD(FIELD)) add (.a(a), .b(t), .s(x));
    mod_sub #(.FIELD(FIELD)) sub (.a(a), .b(t), .d(y));

    always @(posedge clk) begin
        out_valid <= rst ? 1'b0 : t_valid;
        out_x <= x;
        out_y <= y;
    end
endmodule
