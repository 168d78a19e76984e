// Test wrapper (not a unit): gives the Verilator harness one port list for every unit.
//   UNIT 0: mont_mul   in_0 * in_1 -> out_0
//   UNIT 1: butterfly  (a, b, w) = (in_0, in_1, in_2) -> (x, y) = (out_0, out_1)
//   UNIT 2: point_add  (X1, Y1, Z1, x2, y2) = in_0..in_4 -> (X3, Y3, Z3) = out_0..out_2 (Fq)
// Ports a unit does not use are ignored (inputs) or 0 (outputs).
module tb_unit #(
    parameter integer UNIT = 0,
    parameter integer FIELD = 0,
    parameter integer L = 16,
    parameter integer D_ADD = 6
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [255:0] in_0,
    input  wire [255:0] in_1,
    input  wire [255:0] in_2,
    input  wire [255:0] in_3,
    input  wire [255:0] in_4,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire         out_valid,
    output wire [255:0] out_0,
    output wire [255:0] out_1,
    output wire [255:0] out_2
);
    generate
        if (UNIT == 0) begin : u
            mont_mul #(.FIELD(FIELD), .L(L)) dut (
                .clk(clk), .rst(rst), .in_valid(in_valid), .in_a(in_0), .in_b(in_1),
                .out_valid(out_valid), .out_c(out_0)
            );
            assign out_1 = 256'd0;
            assign out_2 = 256'd0;
        end else if (UNIT == 1) begin : u
            butterfly #(.FIELD(FIELD), .L(L)) dut (
                .clk(clk), .rst(rst), .in_valid(in_valid), .in_a(in_0), .in_b(in_1),
                .in_w(in_2), .out_valid(out_valid), .out_x(out_0), .out_y(out_1)
            );
            assign out_2 = 256'd0;
        end else begin : u
            point_add #(.L(L), .D_ADD(D_ADD)) dut (
                .clk(clk), .rst(rst), .in_valid(in_valid), .in_x1(in_0), .in_y1(in_1),
                .in_z1(in_2), .in_x2(in_3), .in_y2(in_4), .out_valid(out_valid),
                .out_x3(out_0), .out_y3(out_1), .out_z3(out_2)
            );
        end
    endgenerate
endmodule
