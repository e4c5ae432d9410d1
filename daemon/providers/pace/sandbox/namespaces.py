"""The XML namespaces of Pace's SOAP services, as their WSDLs name them."""

from __future__ import annotations

__all__ = ["FIND_ITEM_NS", "OBJECT_NS", "RPC_NS", "SOAP12_ENV", "SOAP_ENV", "WSDL", "XSD", "XSI"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
OBJECT_NS = "http://pace2020.com/epace/object"
RPC_NS = "http://rpc.services.appbox.pace2020.com"
FIND_ITEM_NS = "http://pace2020.com/epace/FindObjects"
