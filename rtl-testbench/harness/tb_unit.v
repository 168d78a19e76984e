// Test wrapper (not a unit): gives the Verilator harness one port list for every unit.
// UNIT 0 = mont_mul (in_a * in_b -> out_x; in_w and out_y unused), 1 = butterfly.
module tb_unit #(
    parameter integer UNIT = 0,
    parameter integer FIELD = 0,
    parameter integer L = 16
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         in_valid,
    input  wire [255:0] in_a,
    input  wire [255:0] in_b,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [255:0] in_w,
    /* verilator lint_on UNUSEDSIGNAL */
    output wire         out_valid,
    output wire [255:0] out_x,
    output wire [255:0] out_y
);
    generate
        if (UNIT == 0) begin : u
            mont_mul #(.FIELD(FIELD), .L(L)) dut (
                .clk(clk), .rst(rst), .in_valid(in_valid), .in_a(in_a), .in_b(in_b),
                .out_valid(out_valid), .out_c(out_x)
            );
            assign out_y = 256'd0;
        end else begin : u
            butterfly #(.FIELD(FIELD), .L(L)) dut (
                .clk(clk), .rst(rst), .in_valid(in_valid), .in_a(in_a), .in_b(in_b),
                .in_w(in_w), .out_valid(out_valid), .out_x(out_x), .out_y(out_y)
            );
        end
    endgenerate
endmodule
