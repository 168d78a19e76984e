// Field datapath of a mixed point adder for BN254 G1 (y^2 = x^3 + 3 over Fq):
// (X1 : Y1 : Z1) + (x2, y2) = (X3 : Y3 : Z3), homogeneous projective + affine.
//
// The complete formula of Renes-Costello-Batina 2016, algorithm 8 (a = 0, b3 = 3b = 9): correct
// for every projective P1, including the identity (0 : 1 : 0), P1 = P2 (doubling) and
// P1 = -P2 (result (0 : Y3 : 0)); P2 must be an affine point (not the identity). All words are
// Montgomery representatives (x*R mod q), each < q, like mont_mul's.
//
// Interface: one addition per cycle, no stalls. Inputs on cycle t, outputs on cycle t + 3L + D_ADD.
// hw-sim: L_padd = D_mul * L_mul + D_add with D_mul = 3 (three multiplier levels, the b3
// products included) and D_add = D_ADD; D_ADD >= 2 (two add/sub levels lie on the critical
// path; D_ADD - 2 output register stages make up the rest).
//
// Schedule (cycle each value is ready; L = multiplier latency):
//   0      inputs
//   1      s3 = x2 + y2, s4 = X1 + Y1
//   L      t0 = X1 x2, t1 = Y1 y2, t4a = y2 Z1, y3a = x2 Z1, t2 = b3 Z1    (started at 0)
//   L+1    t3 = s3 s4 (started at 1); t4s = t0 + t1, t4 = t4a + Y1, y3b = y3a + X1,
//          x3a = t0 + t0, z3 = t1 + t2, t1m = t1 - t2
//   L+2    t3m = t3 - t4s, t0t = x3a + t0
//   2L+1   y3c = b3 y3b, t1z = t1m z3, z3a = z3 t4                         (started at L+1)
//   2L+2   t2b = t3m t1m, t0c = t0t t3m                                     (started at L+2)
//   3L+1   x3b = t4 y3c, y3d = y3c t0t                                      (started at 2L+1)
//   3L+2   X3 = t2b - x3b, Y3 = t1z + y3d, Z3 = z3a + t0c
//   3L+D_ADD  outputs, after D_ADD - 2 more register stages
// Critical path: x2 Z1 -> + X1 -> b3 * -> t4 * -> t2b - : three products and two add/subs.
module point_add #(
    parameter integer L = 16,
    parameter integer D_ADD = 6
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    input  wire [255:0] in_x1,
    input  wire [255:0] in_y1,
    input  wire [255:0] in_z1,
    input  wire [255:0] in_x2,
    input  wire [255:0] in_y2,
    output wire         out_valid,
    output wire [255:0] out_x3,
    output wire [255:0] out_y3,
    output wire [255:0] out_z3
);
    localparam integer FQ = 1;
    // 9 R mod q: b3 = 9 in Montgomery form.
    localparam [255:0] B3 = 256'h1d9598e8a7e398572943337e3940c6d12f3d6f4dd31bd011f60647ce410d7ff7;

    // Valid outputs of the multipliers that do not steer the pipeline.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [9:0] spare_valid;
    /* verilator lint_on UNUSEDSIGNAL */

    // ---- cycle 0 -> 1: s3, s4 ----
    wire [255:0] s3_d, s4_d;
    mod_add #(.FIELD(FQ)) add_s3 (.a(in_x2), .b(in_y2), .s(s3_d));
    mod_add #(.FIELD(FQ)) add_s4 (.a(in_x1), .b(in_y1), .s(s4_d));
    reg [255:0] s3, s4;
    reg v1;
    always @(posedge clk) begin
        s3 <= s3_d;
        s4 <= s4_d;
        v1 <= rst ? 1'b0 : in_valid;
    end

    // ---- level-1 products ----
    wire [255:0] t0, t1, t4a, y3a, t2, t3;
    wire v_l;
    mont_mul #(.FIELD(FQ), .L(L)) m_t0 (.clk(clk), .rst(rst), .in_valid(in_valid),
        .in_a(in_x1), .in_b(in_x2), .out_valid(spare_valid[0]), .out_c(t0));
    mont_mul #(.FIELD(FQ), .L(L)) m_t1 (.clk(clk), .rst(rst), .in_valid(in_valid),
        .in_a(in_y1), .in_b(in_y2), .out_valid(spare_valid[1]), .out_c(t1));
    mont_mul #(.FIELD(FQ), .L(L)) m_t4a (.clk(clk), .rst(rst), .in_valid(in_valid),
        .in_a(in_y2), .in_b(in_z1), .out_valid(spare_valid[2]), .out_c(t4a));
    mont_mul #(.FIELD(FQ), .L(L)) m_y3a (.clk(clk), .rst(rst), .in_valid(in_valid),
        .in_a(in_x2), .in_b(in_z1), .out_valid(v_l), .out_c(y3a));
    mont_mul #(.FIELD(FQ), .L(L)) m_t2 (.clk(clk), .rst(rst), .in_valid(in_valid),
        .in_a(B3), .in_b(in_z1), .out_valid(spare_valid[3]), .out_c(t2));
    mont_mul #(.FIELD(FQ), .L(L)) m_t3 (.clk(clk), .rst(rst), .in_valid(v1),
        .in_a(s3), .in_b(s4), .out_valid(spare_valid[4]), .out_c(t3));

    wire [255:0] x1_l, y1_l;
    delay #(.W(256), .N(L)) d_x1 (.clk(clk), .d(in_x1), .q(x1_l));
    delay #(.W(256), .N(L)) d_y1 (.clk(clk), .d(in_y1), .q(y1_l));

    // ---- cycle L -> L+1 ----
    wire [255:0] t4s_d, t4_d, y3b_d, x3a_d, z3_d, t1m_d;
    mod_add #(.FIELD(FQ)) add_t4s (.a(t0), .b(t1), .s(t4s_d));
    mod_add #(.FIELD(FQ)) add_t4 (.a(t4a), .b(y1_l), .s(t4_d));
    mod_add #(.FIELD(FQ)) add_y3b (.a(y3a), .b(x1_l), .s(y3b_d));
    mod_add #(.FIELD(FQ)) add_x3a (.a(t0), .b(t0), .s(x3a_d));
    mod_add #(.FIELD(FQ)) add_z3 (.a(t1), .b(t2), .s(z3_d));
    mod_sub #(.FIELD(FQ)) sub_t1m (.a(t1), .b(t2), .d(t1m_d));
    reg [255:0] t4s, t4, y3b, x3a, z3, t1m, t0_r;
    reg v_a2;
    always @(posedge clk) begin
        t4s <= t4s_d;
        t4 <= t4_d;
        y3b <= y3b_d;
        x3a <= x3a_d;
        z3 <= z3_d;
        t1m <= t1m_d;
        t0_r <= t0;
        v_a2 <= rst ? 1'b0 : v_l;
    end

    // ---- cycle L+1 -> L+2 ----
    wire [255:0] t3m_d, t0t_d;
    mod_sub #(.FIELD(FQ)) sub_t3m (.a(t3), .b(t4s), .d(t3m_d));
    mod_add #(.FIELD(FQ)) add_t0t (.a(x3a), .b(t0_r), .s(t0t_d));
    reg [255:0] t3m, t0t, t1m_r;
    reg v_a3;
    always @(posedge clk) begin
        t3m <= t3m_d;
        t0t <= t0t_d;
        t1m_r <= t1m;
        v_a3 <= rst ? 1'b0 : v_a2;
    end

    // ---- level-2 products ----
    wire [255:0] y3c, t1z, z3a, t2b, t0c;
    wire v_2l1;
    mont_mul #(.FIELD(FQ), .L(L)) m_y3c (.clk(clk), .rst(rst), .in_valid(v_a2),
        .in_a(B3), .in_b(y3b), .out_valid(v_2l1), .out_c(y3c));
    mont_mul #(.FIELD(FQ), .L(L)) m_t1z (.clk(clk), .rst(rst), .in_valid(v_a2),
        .in_a(t1m), .in_b(z3), .out_valid(spare_valid[5]), .out_c(t1z));
    mont_mul #(.FIELD(FQ), .L(L)) m_z3a (.clk(clk), .rst(rst), .in_valid(v_a2),
        .in_a(z3), .in_b(t4), .out_valid(spare_valid[6]), .out_c(z3a));
    mont_mul #(.FIELD(FQ), .L(L)) m_t2b (.clk(clk), .rst(rst), .in_valid(v_a3),
        .in_a(t3m), .in_b(t1m_r), .out_valid(spare_valid[7]), .out_c(t2b));
    mont_mul #(.FIELD(FQ), .L(L)) m_t0c (.clk(clk), .rst(rst), .in_valid(v_a3),
        .in_a(t0t), .in_b(t3m), .out_valid(spare_valid[8]), .out_c(t0c));

    wire [255:0] t4_l, t0t_l;
    delay #(.W(256), .N(L)) d_t4 (.clk(clk), .d(t4), .q(t4_l));
    delay #(.W(256), .N(L - 1)) d_t0t (.clk(clk), .d(t0t), .q(t0t_l));

    // ---- level-3 products ----
    wire [255:0] x3b, y3d;
    wire v_3l1;
    mont_mul #(.FIELD(FQ), .L(L)) m_x3b (.clk(clk), .rst(rst), .in_valid(v_2l1),
        .in_a(t4_l), .in_b(y3c), .out_valid(v_3l1), .out_c(x3b));
    mont_mul #(.FIELD(FQ), .L(L)) m_y3d (.clk(clk), .rst(rst), .in_valid(v_2l1),
        .in_a(y3c), .in_b(t0t_l), .out_valid(spare_valid[9]), .out_c(y3d));

    wire [255:0] t2b_l, t1z_l, z3a_l, t0c_l;
    delay #(.W(256), .N(L - 1)) d_t2b (.clk(clk), .d(t2b), .q(t2b_l));
    delay #(.W(256), .N(L)) d_t1z (.clk(clk), .d(t1z), .q(t1z_l));
    delay #(.W(256), .N(L)) d_z3a (.clk(clk), .d(z3a), .q(z3a_l));
    delay #(.W(256), .N(L - 1)) d_t0c (.clk(clk), .d(t0c), .q(t0c_l));

    // ---- cycle 3L+1 -> 3L+2 ----
    wire [255:0] x3_d, y3_d, z3_out_d;
    mod_sub #(.FIELD(FQ)) sub_x3 (.a(t2b_l), .b(x3b), .d(x3_d));
    mod_add #(.FIELD(FQ)) add_y3 (.a(t1z_l), .b(y3d), .s(y3_d));
    mod_add #(.FIELD(FQ)) add_z3o (.a(z3a_l), .b(t0c_l), .s(z3_out_d));

    // ---- D_ADD - 1 output register stages: the sums' own, then the rest ----
    wire [767:0] p_s [0:D_ADD-1];
    wire         pv_s [0:D_ADD-1];
    assign p_s[0] = {x3_d, y3_d, z3_out_d};
    assign pv_s[0] = v_3l1;
    genvar k;
    generate
        for (k = 0; k < D_ADD - 1; k = k + 1) begin : out_stage
            reg [767:0] r;
            reg rv;
            always @(posedge clk) begin
                r <= p_s[k];
                rv <= rst ? 1'b0 : pv_s[k];
            end
            assign p_s[k+1] = r;
            assign pv_s[k+1] = rv;
        end
    endgenerate
    assign out_valid = pv_s[D_ADD-1];
    assign {out_x3, out_y3, out_z3} = p_s[D_ADD-1];
endmodule
