-- The reservation of `PUT /inventory/{menu}` in one call (PostgreSQL), following the same
-- rules the Restaurant Service runs as separate statements on SQLite (domain.rs): idempotent
-- per (order, menu), refused for an order already compensated, never below zero.
--
-- Why a function and not one SQL statement: a statement reads from one snapshot, taken
-- before it waits for the row lock, so it would miss a restoration committed by whoever held
-- the lock — and a late reservation after its order's compensation would keep stock forever.
-- Each statement of a VOLATILE PL/pgSQL function takes a fresh snapshot (READ COMMITTED): the
-- ledger is read after the lock is held, and sees every reservation or restoration committed
-- before. While the lock is held nobody else can be writing this menu's ledger (reserve,
-- restore and reset all lock the menu row first).
CREATE OR REPLACE FUNCTION reserve_stock(
    p_menu bigint,
    p_order bigint,
    p_quantity bigint,
    OUT outcome text,
    OUT taken bigint,
    OUT price_now bigint,
    OUT stock_now bigint
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_reserved bigint;
    v_restored boolean;
BEGIN
    -- The common case in two statements: lock and take the stock at once (waiting for the
    -- lock re-checks `stock >= quantity` on the row its holder committed) …
    UPDATE menus m SET stock = m.stock - p_quantity
     WHERE m.id = p_menu AND m.stock >= p_quantity
    RETURNING m.price, m.stock INTO price_now, stock_now;
    IF FOUND THEN
        -- … then write the ledger row unless this order has been here before.
        INSERT INTO inventory_ledger (menu_id, order_id, kind, quantity, created_at)
        SELECT p_menu, p_order, 'reserve', p_quantity, now()
         WHERE p_order IS NULL
            OR NOT EXISTS (SELECT 1 FROM inventory_ledger l
                            WHERE l.menu_id = p_menu AND l.order_id = p_order);
        IF FOUND THEN
            outcome := 'reserved';
            taken := p_quantity;
            RETURN;
        END IF;
        -- It has: give the stock back and answer from the ledger below.
        UPDATE menus m SET stock = m.stock + p_quantity WHERE m.id = p_menu
        RETURNING m.stock INTO stock_now;
    ELSE
        -- Not enough stock, or no such menu: lock the row to answer from the ledger.
        SELECT m.price, m.stock INTO price_now, stock_now
          FROM menus m WHERE m.id = p_menu FOR UPDATE;
        IF NOT FOUND THEN
            outcome := 'not_found';
            RETURN;
        END IF;
    END IF;
    IF p_order IS NOT NULL THEN
        SELECT max(l.quantity) FILTER (WHERE l.kind = 'reserve'),
               coalesce(bool_or(l.kind = 'restore'), false)
          INTO v_reserved, v_restored
          FROM inventory_ledger l
         WHERE l.menu_id = p_menu AND l.order_id = p_order;
        IF v_reserved IS NOT NULL THEN
            outcome := 'replayed';
            taken := v_reserved;
            RETURN;
        END IF;
        IF v_restored THEN
            outcome := 'compensated';
            RETURN;
        END IF;
    END IF;
    outcome := 'insufficient';
END
$$;
