// Pipelined Montgomery multiplier for BN254: c = a * b * 2^-256 mod p.
//
// Interface (one new operation per cycle; no stalls, no back-pressure):
//   cycle t   : in_valid = 1, in_a, in_b (both < p)
//   cycle t+L : out_valid = 1, out_c = a * b * R^-1 mod p, R = 2^256, fully reduced (< p)
// A cycle with in_valid = 0 is a bubble and comes out as out_valid = 0 L cycles later.
// out_c is "don't care" while out_valid = 0. rst (synchronous, active high) clears the valid
// pipeline only; the data registers need no reset.
//
// Structure: L register stages, no input register, outputs straight from registers.
//   stages 0 .. ND-1 (ND = L - 1): digit-serial Montgomery (CIOS), one digit of a per stage:
//       u = t + a_i * b;  m = u * (-p^-1) mod 2^w_i;  t' = (u + m * p) / 2^w_i
//     The 256 bits of a are cut into ND digits of w = 256 / ND or w + 1 bits (the first
//     256 mod ND digits are one bit wider), so the digits' widths add to exactly 256 and
//     t' = a * b * 2^-256 mod p, with 0 <= t' < 2p, after the last digit.
//   stage ND: conditional subtraction c = t >= p ? t - p : t (the output register).
// For L = 16: 15 digit stages (one of 18 bits, fourteen of 17 bits) + the reduction stage.
//
// FIELD selects the prime: 0 = scalar field Fr (NTTs), 1 = base field Fq (point coordinates).
// 2 <= L <= 257.
module mont_mul #(
    parameter integer FIELD = 0,
    parameter integer L = 16
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    input  wire [255:0] in_a,
    input  wire [255:0] in_b,
    output reg          out_valid,
    output reg  [255:0] out_c
);
    localparam [255:0] P_FR = 256'h30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    localparam [255:0] P_FQ = 256'h30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
    // -p^-1 mod 2^256; a digit of w bits uses its low w bits (-p^-1 mod 2^w).
    localparam [255:0] NPRIME_FR = 256'h73f82f1d0d8341b2e39a9828990623916586864b4c6911b3c2e1f593efffffff;
    localparam [255:0] NPRIME_FQ = 256'hf57a22b791888c6bd8afcbd01833da809ede7d651eca6ac987d20782e4866389;
    localparam [255:0] P = (FIELD == 0) ? P_FR : P_FQ;
    localparam [255:0] NPRIME = (FIELD == 0) ? NPRIME_FR : NPRIME_FQ;

    localparam integer ND = L - 1;        // digit stages
    localparam integer WLO = 256 / ND;    // narrow digit width
    localparam integer NWIDE = 256 % ND;  // digits of width WLO + 1 (the first NWIDE)

    // Pipeline state at the input of stage s (index 0 = the input ports).
    wire         v_s [0:ND];
    wire [255:0] t_s [0:ND];
    wire [255:0] a_s [0:ND];
    wire [255:0] b_s [0:ND];

    assign v_s[0] = in_valid;
    assign t_s[0] = 256'd0;
    assign a_s[0] = in_a;
    assign b_s[0] = in_b;

    genvar s;
    generate
        for (s = 0; s < ND; s = s + 1) begin : digit
            localparam integer W = WLO + ((s < NWIDE) ? 1 : 0);
            // a_s[s] holds the digits not yet used, lowest first.
            wire [W-1:0]     a_i = a_s[s][W-1:0];
            // t < 2p, a_i < 2^W, b < p: u < 2p + (2^W - 1) p < 2^(W + 255).
            wire [W+255:0]   u = {{W{1'b0}}, t_s[s]} + a_i * b_s[s];
            // m = u * (-p^-1) mod 2^W (a W-bit product keeps the low W bits).
            wire [W-1:0]     m = u[W-1:0] * NPRIME[W-1:0];
            // v = u + m p < 2^(W + 1) p; its low W bits are zero by the choice of m, and
            // v / 2^W < 2p.
            /* verilator lint_off UNUSEDSIGNAL */
            wire [W+255:0]   v = u + m * P;
            /* verilator lint_on UNUSEDSIGNAL */

            reg          v_q;
            reg  [255:0] t_q;
            reg  [255:0] a_q;
            reg  [255:0] b_q;
            always @(posedge clk) begin
                v_q <= rst ? 1'b0 : v_s[s];
                t_q <= v[W+255:W];
                a_q <= a_s[s] >> W;
                b_q <= b_s[s];
            end
            assign v_s[s+1] = v_q;
            assign t_s[s+1] = t_q;
            assign a_s[s+1] = a_q;
            assign b_s[s+1] = b_q;
        end
    endgenerate

    // Stage ND: 0 <= t < 2p; one conditional subtraction reduces it.
    wire [255:0] t_last = t_s[ND];
    wire [256:0] t_minus_p = {1'b0, t_last} - {1'b0, P};
    always @(posedge clk) begin
        out_valid <= rst ? 1'b0 : v_s[ND];
        out_c <= t_minus_p[256] ? t_last : t_minus_p[255:0];
    end
endmodule
