#include <cstdio>
int main() { std::puts("loraplane"); return 0; }
