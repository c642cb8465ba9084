"""Trade server return codes with the comment the terminal puts beside each.

``order_check`` answers 0 with comment "Done" when a request passes; ``order_send``
answers 10009 "Request executed". Refusal comments are the terminal's short texts.
"""

from bridge_v3.services.mt5.contract import constants as mc

CHECK_OK = 0

_COMMENTS: dict[int, str] = {
    CHECK_OK: "Done",
    mc.TRADE_RETCODE_REQUOTE: "Requote",
    mc.TRADE_RETCODE_REJECT: "Request rejected",
    mc.TRADE_RETCODE_PLACED: "Order placed",
    mc.TRADE_RETCODE_DONE: "Request executed",
    mc.TRADE_RETCODE_INVALID: "Invalid request",
    mc.TRADE_RETCODE_INVALID_VOLUME: "Invalid volume",
    mc.TRADE_RETCODE_INVALID_PRICE: "Invalid price",
    mc.TRADE_RETCODE_INVALID_STOPS: "Invalid stops",
    mc.TRADE_RETCODE_TRADE_DISABLED: "Trade disabled",
    mc.TRADE_RETCODE_MARKET_CLOSED: "Market closed",
    mc.TRADE_RETCODE_NO_MONEY: "No money",
    mc.TRADE_RETCODE_PRICE_OFF: "No prices",
    mc.TRADE_RETCODE_INVALID_EXPIRATION: "Invalid expiration",
    mc.TRADE_RETCODE_NO_CHANGES: "No changes",
    mc.TRADE_RETCODE_CLIENT_DISABLES_AT: "AutoTrading disabled by client",
    mc.TRADE_RETCODE_INVALID_FILL: "Unsupported filling mode",
    mc.TRADE_RETCODE_INVALID_ORDER: "Invalid order",
    mc.TRADE_RETCODE_POSITION_CLOSED: "Position already closed",
    mc.TRADE_RETCODE_INVALID_CLOSE_VOLUME: "Invalid close volume",
    mc.TRADE_RETCODE_LONG_ONLY: "Long positions only allowed",
    mc.TRADE_RETCODE_SHORT_ONLY: "Short positions only allowed",
    mc.TRADE_RETCODE_CLOSE_ONLY: "Only position closing is allowed",
    mc.TRADE_RETCODE_LIMIT_ORDERS: "Too many orders",
}


def comment(retcode: int) -> str:
    """The terminal's comment for ``retcode`` ("" for codes it leaves uncommented)."""
    return _COMMENTS.get(retcode, "")
