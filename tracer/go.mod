module hotdump/tracer

go 1.22
