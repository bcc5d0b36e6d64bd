"""The relay tunnel's protocol: how the control plane and a connect agent talk over one WebSocket.

``frames`` holds the frames as values, ``codec`` their wire format (encode, decode, ``MalformedFrame``)
and ``connection`` the WebSocket's close codes and handshake headers. All of it is pure: no I/O.
"""
