;; Matrix multiply C = A·B of n×n f64 matrices in linear memory (A at 0, B after A, C after B; row-major),
;; with A[i] = (i mod 13)·0.1 + 1 and B[i] = (i mod 7)·0.5 - 1.5 for the flat index i. Returns the bits of
;; the sum of C's elements (summed in index order). f64 loads, stores and arithmetic.
(module
  (memory 1)
  ;; Grows memory to at least $bytes bytes (traps if it cannot).
  (func $reserve (param $bytes i32)
    (local $pages i32)
    (local.set $pages (i32.shr_u (i32.add (local.get $bytes) (i32.const 0xffff)) (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then unreachable)))))
  (func (export "matmul") (param $n i32) (result i64)
    (local $nn i32) (local $b i32) (local $c i32) (local $row i32)
    (local $i i32) (local $j i32) (local $k i32) (local $pa i32) (local $pb i32) (local $sum f64)
    (local.set $nn (i32.mul (local.get $n) (local.get $n)))
    (local.set $b (i32.shl (local.get $nn) (i32.const 3)))
    (local.set $c (i32.shl (local.get $nn) (i32.const 4)))
    (local.set $row (i32.shl (local.get $n) (i32.const 3)))
    (call $reserve (i32.mul (local.get $nn) (i32.const 24)))
    ;; Fill A and B.
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (local.get $nn)))
        (f64.store (i32.shl (local.get $i) (i32.const 3))
          (f64.add (f64.mul (f64.convert_i32_u (i32.rem_u (local.get $i) (i32.const 13))) (f64.const 0.1))
                   (f64.const 1)))
        (f64.store (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 3)))
          (f64.sub (f64.mul (f64.convert_i32_u (i32.rem_u (local.get $i) (i32.const 7))) (f64.const 0.5))
                   (f64.const 1.5)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    ;; C[i][j] = sum over k of A[i][k]·B[k][j].
    (local.set $i (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $sum (f64.const 0))
            (local.set $pa (i32.mul (local.get $i) (local.get $row)))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 3))))
            (local.set $k (i32.const 0))
            (block $dot_done
              (loop $dot
                (br_if $dot_done (i32.ge_u (local.get $k) (local.get $n)))
                (local.set $sum (f64.add (local.get $sum)
                                         (f64.mul (f64.load (local.get $pa)) (f64.load (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (i32.const 8)))
                (local.set $pb (i32.add (local.get $pb) (local.get $row)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br $dot)))
            (f64.store
              (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j))
                                              (i32.const 3)))
              (local.get $sum))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    ;; Checksum: the sum of C.
    (local.set $sum (f64.const 0))
    (local.set $i (i32.const 0))
    (block $summed
      (loop $add
        (br_if $summed (i32.ge_u (local.get $i) (local.get $nn)))
        (local.set $sum (f64.add (local.get $sum)
                                 (f64.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $add)))
    (i64.reinterpret_f64 (local.get $sum))))
